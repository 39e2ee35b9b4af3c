"""``cortado bench``: time a model (median of several runs after warm-up), optionally against
onnxruntime on the same inputs, with the largest difference between the two.

Any model kind is accepted (ONNX, a Caffe net with ``--weights``, an artifact); the onnxruntime
comparison needs the ONNX model itself, and onnxruntime installed (``cortado[bench]``), both
checked before anything is compiled or timed."""

from __future__ import annotations

import statistics
import time

from cortado.runtime.errors import CortadoError

from ..progress import Progress
from . import flags
from .common import feeds_for, input_shapes, is_artifact, require

INTERPRETER_RUNS = 3      # the default on the interpreter, where one run can take seconds
GPU_RUNS = 10


def register(sub) -> None:
    b = sub.add_parser("bench", help="time a model; --against onnxruntime compares with onnxruntime")
    flags.add_model(b, runnable=True)
    b.add_argument("--against", choices=["onnxruntime"], help="also time onnxruntime on the same inputs "
                   "(an .onnx model; pip install 'cortado[bench]')")
    flags.add_input(b)
    flags.add_compile_flags(b)
    b.add_argument("--runs", type=int, default=None, metavar="R",
                   help=f"timed runs (default {GPU_RUNS} on a GPU or cpu, {INTERPRETER_RUNS} on the interpreter)")
    b.add_argument("--warmup", type=int, default=2, metavar="W", help="untimed runs first (default 2)")
    flags.add_quiet(b)
    b.set_defaults(func=run)


def _time(fn, runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _check_args(args) -> None:
    if args.runs is not None and args.runs < 1:
        raise CortadoError(f"--runs must be at least 1, got {args.runs}")
    if args.warmup < 0:
        raise CortadoError(f"--warmup must not be negative, got {args.warmup}")
    if args.against == "onnxruntime":
        if is_artifact(args.model) or not str(args.model).lower().endswith(".onnx"):
            raise CortadoError("--against onnxruntime needs the .onnx model itself",
                               hint="for a Caffe net: cortado convert NET.prototxt --weights W -o NET.onnx")
        require("onnxruntime", "--against onnxruntime")
    flags.check_target(args)


def run(args) -> int:
    import numpy as np

    from cortado import runtime

    _check_args(args)       # before any compile or timing: a missing extra costs no time
    with Progress(enabled=not args.quiet) as progress:
        if is_artifact(args.model):
            model = runtime.load(args.model, target=args.target)
            flags.refuse_compile_flags(args, args.model, model.plan)
        else:
            from ..driver import compile as compile_model

            model = compile_model(args.model, weights=args.weights, random_weights=args.random_weights,
                                  input_shapes=input_shapes(args, from_files=False), target=args.target,
                                  opt_level=flags.opt_level_of(args), dtype=flags.dtype_of(args),
                                  progress=progress.step)
        feeds = feeds_for(model, args)
        runs = args.runs or (INTERPRETER_RUNS if model.target == "interpreter" else GPU_RUNS)
        progress.step(f"timing {runs} runs on {model.target}")
        ours = _time(lambda: model.run(feeds), runs, args.warmup)
        rows = [("cortado", model.target, ours)]
        diff = None
        if args.against == "onnxruntime":
            import onnxruntime as ort

            progress.step("timing onnxruntime")
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                         if p in ort.get_available_providers()]
            sess = ort.InferenceSession(str(args.model), providers=providers)
            ort_feeds = {k: v for k, v in feeds.items() if k in {i.name for i in sess.get_inputs()}}
            theirs = _time(lambda: sess.run(None, ort_feeds), runs, args.warmup)
            rows.append(("onnxruntime", sess.get_providers()[0], theirs))
            got = model.run(feeds)
            ref = sess.run(None, ort_feeds)
            diff = max(float(np.max(np.abs(got[name].astype(np.float64) - r))) for name, r in
                       zip(model.output_names, ref))
    print(f"{'engine':<12} {'device':<24} {'median ms':>10} {'min ms':>10} {'runs':>5}")
    for name, device, times in rows:
        print(f"{name:<12} {device:<24} {1e3 * statistics.median(times):>10.3f} {1e3 * min(times):>10.3f} "
              f"{len(times):>5}")
    if diff is not None:
        print(f"largest output difference vs onnxruntime: {diff:.3g}")
    return 0
