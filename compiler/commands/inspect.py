"""``cortado inspect``: the graph before and after passes, the fusion groups and the kernels."""

from __future__ import annotations

import json
from pathlib import Path

from cortado.runtime.loader import write_atomic

from ..progress import Progress
from .common import input_shapes


def register(sub) -> None:
    i = sub.add_parser("inspect", help="show the graph before/after passes, fusion groups and kernels")
    i.add_argument("model", help="model.onnx or net.prototxt")
    i.add_argument("--html", metavar="FILE", help="also write one self-contained HTML page")
    i.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    i.add_argument("--input", action="append", metavar="NAME=1x3x224x224", help="fix or name an input's dims")
    w = i.add_mutually_exclusive_group()
    w.add_argument("--weights", help="Caffe .caffemodel weights")
    w.add_argument("--random-weights", action="store_true", help="seeded random weights (Caffe nets)")
    i.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    i.add_argument("-O", dest="opt_level", type=int, default=2, choices=[0, 1, 2, 3], help="optimization level")
    i.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    i.set_defaults(func=run)


def run(args) -> int:
    from ..inspect import build_report, render_html, render_text

    with Progress(enabled=not args.quiet) as progress:
        report = build_report(args.model, weights=args.weights, random_weights=args.random_weights,
                              input_shapes=input_shapes(args.input), dtype=args.dtype, opt_level=args.opt_level,
                              target="interpreter", progress=progress.step)
    print(render_text(report))
    if args.html:
        write_atomic(Path(args.html), render_html(report).encode())
        print(f"\nwrote {args.html}")
    if args.json:
        write_atomic(Path(args.json), (json.dumps(report, indent=1) + "\n").encode())
        print(f"wrote {args.json}")
    return 0
