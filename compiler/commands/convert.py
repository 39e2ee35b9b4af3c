"""``cortado convert``: a Caffe net (prototxt + optional caffemodel) to a checked ONNX model."""

from __future__ import annotations

from .common import input_shapes


def register(sub) -> None:
    c = sub.add_parser("convert", help="convert a Caffe .prototxt (+ .caffemodel) to ONNX")
    c.add_argument("model", help="net.prototxt")
    c.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    w = c.add_mutually_exclusive_group()
    w.add_argument("--weights", help="the .caffemodel")
    w.add_argument("--random-weights", action="store_true", help="seeded random weights, with a notice")
    c.add_argument("--input", action="append", metavar="NAME=1x3x224x224", help="fix or name an input's dims")
    c.add_argument("--opset", type=int, default=None, help="ONNX opset of the output (default: the exporter's)")
    c.add_argument("-v", "--verbose", action="store_true", help="print notices (dropped layers, chosen stage)")
    c.set_defaults(func=run)


def run(args) -> int:
    from ..exporters import convert_caffe

    kwargs = {"weights": args.weights, "random_weights": args.random_weights, "output": args.output,
              "input_shapes": input_shapes(args.input), "quiet": not args.verbose}
    if args.opset is not None:
        kwargs["opset"] = args.opset
    model = convert_caffe(args.model, **kwargs)
    print(f"converted {args.model} -> {args.output} (opset {model.opset_import[0].version}, "
          f"{len(model.graph.node)} nodes, checked)")
    return 0
