"""``cortado run``: run an artifact (or compile a model first) on random or given inputs."""

from __future__ import annotations

import io
import time
from pathlib import Path

from ..progress import Progress
from . import flags
from .common import add_limit_flag, check_destination, feeds_for, input_shapes, is_artifact


def register(sub) -> None:
    r = sub.add_parser("run", help="run a model or artifact on random or given inputs")
    flags.add_model(r, runnable=True)
    flags.add_input(r)
    flags.add_compile_flags(r)
    r.add_argument("--save-outputs", metavar="DIR", help="write each output as DIR/NAME.npy")
    add_limit_flag(r)
    flags.add_quiet(r)
    r.set_defaults(func=run)


def run(args) -> int:
    with Progress(enabled=not args.quiet) as progress:
        return _run(args, progress)


def _run(args, progress) -> int:
    from cortado import runtime
    flags.check_target(args)
    if args.save_outputs:
        check_destination(args.save_outputs, "--save-outputs", folder=True)
    if is_artifact(args.model):
        progress.step("loading artifact")
        model = runtime.load(args.model, target=args.target)
        flags.refuse_compile_flags(args, args.model, model.plan)
        model.max_elements = args.max_elements
    else:
        from ..driver import compile as compile_model

        model = compile_model(args.model, weights=args.weights, random_weights=args.random_weights,
                              input_shapes=input_shapes(args, from_files=False), target=args.target, dtype=flags.dtype_of(args),
                              opt_level=flags.opt_level_of(args), progress=progress.step,
                              max_elements=args.max_elements)
    feeds = feeds_for(model, args, args.max_elements)
    progress.step(f"running on {model.target}")
    t0 = time.perf_counter()
    outputs = model.run(feeds)
    elapsed = time.perf_counter() - t0
    import numpy as np

    print(f"ran on {model.target} ({model.target_reason}) in {elapsed:.3f}s")
    for name, arr in outputs.items():
        flat = arr.reshape(-1)
        head = np.array2string(flat[:6], precision=4, separator=", ")
        stats = f"min {flat.min():.4g} max {flat.max():.4g} mean {flat.astype(np.float64).mean():.4g}" \
            if flat.size and arr.dtype.kind in "fiu" else ""
        print(f"  {name}: {arr.dtype}{list(arr.shape)} {stats} {head}")
    if args.save_outputs:
        save_outputs(Path(args.save_outputs), outputs)
    return 0


def save_outputs(out: Path, outputs) -> None:
    """Each output as OUT/NAME.npy, each file written atomically (whole or not at all)."""
    from cortado.runtime.errors import OutputError
    from cortado.runtime.loader import write_atomic

    import numpy as np

    check_destination(out, "--save-outputs", folder=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, arr in outputs.items():
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            write_atomic(out / (_safe_filename(name) + ".npy"), buf.getvalue())
    except OSError as e:
        raise OutputError(f"cannot write outputs to {out}: {e.strerror or e}") from None
    print(f"  saved {len(outputs)} output(s) to {out}")


def _safe_filename(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "output"
