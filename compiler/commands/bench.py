"""``cortado bench``: time a model (median of several runs after warm-up), optionally against
onnxruntime on the same inputs, with the largest difference between the two."""

from __future__ import annotations

import statistics
import time

import numpy as np

from cortado.runtime.errors import CortadoError

from ..progress import Progress
from .common import feeds_for, input_shapes, is_artifact


def register(sub) -> None:
    b = sub.add_parser("bench", help="time a model; --against onnxruntime compares with onnxruntime")
    b.add_argument("model", help="model.onnx, net.prototxt or a .cortado artifact")
    b.add_argument("--against", choices=["onnxruntime"], help="also time onnxruntime on the same inputs")
    b.add_argument("--input", action="append", metavar="NAME=FILE.npy|random", help="an input (default: random)")
    b.add_argument("--shape", action="append", metavar="NAME=1x3x224x224", help="input dims when compiling")
    b.add_argument("--target", default="auto", choices=["auto", "cuda", "interpreter"])
    b.add_argument("-O", dest="opt_level", type=int, default=2, choices=[0, 1, 2, 3])
    b.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    b.add_argument("--runs", type=int, default=10, help="timed runs (default 10; 3 on the interpreter)")
    b.add_argument("--warmup", type=int, default=2)
    b.add_argument("-q", "--quiet", action="store_true")
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


def run(args) -> int:
    from cortado import runtime
    with Progress(enabled=not args.quiet) as progress:
        if is_artifact(args.model):
            model = runtime.load(args.model, target=args.target)
        else:
            from ..driver import compile as compile_model

            model = compile_model(args.model, input_shapes=input_shapes(args.shape), target=args.target,
                                  opt_level=args.opt_level, dtype=args.dtype, progress=progress.step)
        feeds = feeds_for(model, args.input)
        runs = args.runs if args.runs != 10 or model.target == "cuda" else 3
        progress.step(f"timing {runs} runs on {model.target}")
        ours = _time(lambda: model.run(feeds), runs, args.warmup)
        rows = [("cortado", model.target, ours)]
        diff = None
        if args.against == "onnxruntime":
            if is_artifact(args.model) or not str(args.model).endswith(".onnx"):
                raise CortadoError("--against onnxruntime needs the .onnx model itself")
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
