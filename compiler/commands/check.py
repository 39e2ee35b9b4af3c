"""``cortado check``: every op of a model with its opset, dtype and status, before compiling."""

from __future__ import annotations

from .common import input_shapes


def register(sub) -> None:
    c = sub.add_parser("check", help="list every op with opset, dtype and supported / why not")
    c.add_argument("model", help="model.onnx")
    c.add_argument("--input", action="append", metavar="NAME=1x3x224x224", help="fix or name an input's dims")
    c.add_argument("--problems", action="store_true", help="show only unsupported and blocked ops")
    c.set_defaults(func=run)


def run(args) -> int:
    from ..check import check_model, format_check

    rows = check_model(args.model, input_shapes=input_shapes(args.input))
    print(format_check(rows, only_problems=args.problems))
    return 0 if all(r.status == "supported" for r in rows) else 1
