"""``cortado inspect``: the graph before and after passes, the fusion groups and the kernels."""

from __future__ import annotations

from ..progress import Progress
from . import flags
from .common import input_shapes, require


def register(sub) -> None:
    i = sub.add_parser("inspect", help="show the graph before/after passes, fusion groups and kernels")
    flags.add_model(i)
    i.add_argument("--html", metavar="FILE", help="also write one self-contained HTML page "
                   "(its graph picture needs pip install 'cortado[inspect]')")
    i.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    flags.add_shape(i)
    flags.add_input(i)
    flags.add_weights(i)
    flags.add_dtype(i)
    flags.add_opt_level(i)
    flags.add_quiet(i)
    i.set_defaults(func=run)


def run(args) -> int:
    import json
    from pathlib import Path

    from cortado.runtime.loader import write_atomic

    from ..inspect import build_report, render_html, render_text

    if args.html:
        require("matplotlib", "--html (its picture of the fused groups)")
    with Progress(enabled=not args.quiet) as progress:
        report = build_report(args.model, weights=args.weights, random_weights=args.random_weights,
                              input_shapes=input_shapes(args), dtype=flags.dtype_of(args),
                              opt_level=flags.opt_level_of(args),
                              target="interpreter", progress=progress.step)
    # the files first: a reader that stops reading the text early (| head) must not cost them
    if args.html:
        write_atomic(Path(args.html), render_html(report).encode())
    if args.json:
        write_atomic(Path(args.json), (json.dumps(report, indent=1) + "\n").encode())
    print(render_text(report))
    if args.html or args.json:
        print()
    for path in (args.html, args.json):
        if path:
            print(f"wrote {path}")
    return 0
