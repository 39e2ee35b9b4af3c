"""``cortado debug-numerics``: each fused kernel against its unfused reference.

Exit status: 0 when every kernel (alone and inside the model) and every model output matches
the numpy reference, 1 when one diverges (the first one is named), 2 for user errors.
"""

from __future__ import annotations

from ..progress import Progress
from . import flags
from .common import input_shapes


def register(sub) -> None:
    d = sub.add_parser("debug-numerics", help="check each fused kernel against its unfused reference",
                       description="Run every fused kernel of MODEL alone and inside the model against the "
                                   "numpy reference evaluator and the unfused (O0) kernels of the same "
                                   "nodes, and name the first one that diverges.")
    flags.add_model(d)
    flags.add_input(d)
    flags.add_compile_flags(d)
    d.add_argument("--rtol", type=float, help="relative tolerance (default: per dtype)")
    d.add_argument("--atol", type=float, help="absolute tolerance, times the value's largest magnitude")
    flags.add_quiet(d)
    d.set_defaults(func=run)


def run(args) -> int:
    from ..debug_numerics import check_numerics, render_text
    from ..driver import compile as compile_model
    from .common import feeds_for

    flags.check_target(args)
    with Progress(enabled=not args.quiet) as progress:
        feeds = None
        if args.input:
            # inputs read from files fix the shapes: compile once to learn the model's inputs
            probe = compile_model(args.model, weights=args.weights, random_weights=args.random_weights,
                                  input_shapes=input_shapes(args, from_files=False), target=args.target, opt_level=0,
                                  progress=progress.step)
            feeds = feeds_for(probe, args)
        report = check_numerics(args.model, feeds=feeds, opt_level=flags.opt_level_of(args), target=args.target,
                                dtype=flags.dtype_of(args),
                                weights=args.weights, random_weights=args.random_weights,
                                input_shapes=input_shapes(args, from_files=False), rtol=args.rtol, atol=args.atol,
                                progress=progress.step)
    print(render_text(report))
    return 0 if report.ok else 1
