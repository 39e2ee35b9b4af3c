"""``cortado check``: every op of a model (or every layer of a Caffe net) with its status,
before compiling. Exit status 0 when all are supported, 1 when one is not, 2 for user errors."""

from __future__ import annotations

from . import flags
from .common import input_shapes, is_caffe


def register(sub) -> None:
    c = sub.add_parser("check", help="list every op (or Caffe layer) with opset, dtype and supported / why not")
    flags.add_model(c)
    flags.add_shape(c)
    flags.add_input(c)
    flags.add_weights(c)
    c.add_argument("--problems", action="store_true", help="show only unsupported and blocked ops")
    c.set_defaults(func=run)


def run(args) -> int:
    from ..check import format_check
    shapes = input_shapes(args)
    if is_caffe(args.model):
        from ..check_caffe import check_caffe

        # --random-weights is honoured trivially: no weights are drawn to check a net
        rows, notes = check_caffe(args.model, weights=args.weights, input_shapes=shapes)
    else:
        from cortado.runtime.errors import CortadoError

        from ..check import check_model

        if args.weights or args.random_weights:
            raise CortadoError(f"{'--weights' if args.weights else '--random-weights'} is for Caffe nets; "
                               f"{args.model} is read as ONNX", hint="ONNX models carry their weights")
        rows, notes = check_model(args.model, input_shapes=shapes), []
    print(format_check(rows, only_problems=args.problems))
    for note in notes:
        print(f"note: {note}")
    return 0 if all(r.status == "supported" for r in rows) else 1
