"""``cortado debug-numerics``: each fused kernel against its unfused reference.

Exit status: 0 when every kernel (alone and inside the model) and every model output matches
the numpy reference, 1 when one diverges (the first one is named), 2 for user errors.
"""

from __future__ import annotations

from ..progress import Progress
from .common import input_shapes


def register(sub) -> None:
    d = sub.add_parser("debug-numerics", help="check each fused kernel against its unfused reference",
                       description="Run every fused kernel of MODEL alone and inside the model against the "
                                   "numpy reference evaluator and the unfused (O0) kernels of the same "
                                   "nodes, and name the first one that diverges.")
    d.add_argument("model", help="model.onnx or net.prototxt")
    d.add_argument("--input", action="append", metavar="NAME=FILE.npy|random", help="an input (default: random)")
    d.add_argument("--shape", action="append", metavar="NAME=1x3x224x224", help="fix or name an input's dims")
    w = d.add_mutually_exclusive_group()
    w.add_argument("--weights", help="Caffe .caffemodel weights")
    w.add_argument("--random-weights", action="store_true", help="seeded random weights (Caffe nets)")
    d.add_argument("--target", default="auto", choices=["auto", "cuda", "interpreter"])
    d.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    d.add_argument("-O", dest="opt_level", type=int, default=2, choices=[0, 1, 2, 3], help="optimization level")
    d.add_argument("--rtol", type=float, help="relative tolerance (default: per dtype)")
    d.add_argument("--atol", type=float, help="absolute tolerance, times the value's largest magnitude")
    d.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    d.set_defaults(func=run)


def run(args) -> int:
    from ..debug_numerics import check_numerics, render_text
    from ..driver import compile as compile_model
    from .common import feeds_for

    with Progress(enabled=not args.quiet) as progress:
        feeds = None
        if args.input:
            # inputs read from files fix the shapes: compile once to learn the model's inputs
            probe = compile_model(args.model, weights=args.weights, random_weights=args.random_weights,
                                  input_shapes=input_shapes(args.shape), target=args.target, opt_level=0,
                                  progress=progress.step)
            feeds = feeds_for(probe, args.input)
        report = check_numerics(args.model, feeds=feeds, opt_level=args.opt_level, target=args.target,
                                dtype=args.dtype,
                                weights=args.weights, random_weights=args.random_weights,
                                input_shapes=input_shapes(args.shape), rtol=args.rtol, atol=args.atol,
                                progress=progress.step)
    print(render_text(report))
    return 0 if report.ok else 1
