"""``cortado convert``: a Caffe net (prototxt + optional caffemodel) to a checked ONNX model."""

from __future__ import annotations

from . import flags
from .common import input_shapes, is_caffe


def register(sub) -> None:
    c = sub.add_parser("convert", help="convert a Caffe .prototxt (+ .caffemodel) to ONNX")
    c.add_argument("model", metavar="MODEL", help="net.prototxt (Caffe; its weights with --weights)")
    c.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    flags.add_weights(c)
    flags.add_shape(c)
    flags.add_input(c)
    c.add_argument("--opset", type=int, default=None, help="ONNX opset of the output (default: the exporter's)")
    c.add_argument("-v", "--verbose", action="store_true", help="print notices (dropped layers, chosen stage)")
    c.set_defaults(func=run)


def run(args) -> int:
    from cortado.runtime.errors import CortadoError

    from ..exporters import convert_caffe

    if not is_caffe(args.model):
        raise CortadoError(f"convert reads Caffe nets (.prototxt); {args.model} is not one",
                           hint="an ONNX model needs no converting: compile or run it directly")
    kwargs = {"weights": args.weights, "random_weights": args.random_weights, "output": args.output,
              "input_shapes": input_shapes(args), "quiet": not args.verbose}
    if args.opset is not None:
        kwargs["opset"] = args.opset
    model = convert_caffe(args.model, **kwargs)
    print(f"converted {args.model} -> {args.output} (opset {model.opset_import[0].version}, "
          f"{len(model.graph.node)} nodes, checked)")
    return 0
