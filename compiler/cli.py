"""The ``cortado`` command line.

Every user-caused error (a bad file, a bad shape, an unsupported op) ends with one message on
stderr and exit code 2; outputs are written atomically, so a failed command leaves no
half-written file behind.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

from runtime.errors import CortadoError, InputError

from .progress import Progress

EXIT_USER_ERROR = 2


def _parse_shape(text: str, flag: str) -> tuple[str, tuple]:
    name, sep, dims = text.rpartition("=")
    if not sep or not name or not dims:
        raise CortadoError(f"{flag} expects NAME=DIMS such as data=1x3x224x224, got {text!r}")
    out = []
    for d in dims.lower().replace(",", "x").split("x"):
        d = d.strip()
        if d.isdigit() and int(d) > 0:
            out.append(int(d))
        elif d.isidentifier():
            out.append(d)
        else:
            raise CortadoError(f"{flag} {text!r}: dim {d!r} is not a positive integer or a name like N")
    return name, tuple(out)


def _input_shapes(items) -> dict | None:
    if not items:
        return None
    shapes = {}
    for item in items:
        name, shape = _parse_shape(item, "--input")
        shapes[name] = shape
    return shapes


def _is_artifact(path: str) -> bool:
    p = Path(path)
    return (p.is_dir() and (p / "manifest.json").exists()) or p.suffix == ".zip" or p.suffix == ".cortado"


def cmd_compile(args) -> int:
    from .driver import compile as compile_model

    if args.weights and args.random_weights:
        raise CortadoError("give either --weights or --random-weights, not both")
    progress = Progress(enabled=not args.quiet)
    model = compile_model(args.model, weights=args.weights, random_weights=args.random_weights,
                          input_shapes=_input_shapes(args.input), target=args.target, dtype=args.dtype,
                          opt_level=args.opt_level, progress=progress.step)
    out = args.output or (Path(args.model).stem + ".cortado")
    if args.arch:
        from codegen.aot import compile_module, parse_archs

        archs = parse_archs(args.arch)
        progress.step(f"compiling kernels for {', '.join(archs)}")
        for k in compile_module(model.source, model.plan, archs):
            model.cubins[(k.arch, f"{k.kernel}.{_config_id(k.config)}.cubin")] = k.cubin
    progress.step("saving artifact")
    model.save(out)
    progress.done()
    s = model.stats
    print(f"compiled {args.model} -> {out}")
    print(f"  nodes {s['nodes_in']} -> {s['nodes_out']}, kernels {s['kernels']} ({s['unique_kernels']} distinct), "
          f"peak {_fmt_bytes(s['peak_bytes'])}, est. HBM traffic {_fmt_bytes(s['est_hbm_bytes'])}, "
          f"{s['compile_seconds']:.2f}s")
    return 0


def _config_id(cfg: dict) -> str:
    import hashlib
    import json

    return hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:10]


def _fmt_bytes(n) -> str:
    if not isinstance(n, (int, float)):
        return f"{n} bytes"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def _load_input(spec: str, model) -> tuple[str, np.ndarray]:
    name, sep, src = spec.partition("=")
    if not sep:
        raise CortadoError(f"--input expects NAME=FILE.npy or NAME=random, got {spec!r}")
    if src == "random":
        info = next((i for i in model.inputs if i["name"] == name), None)
        if info is None:
            raise InputError(f"the model has no input {name!r}", hint=f"inputs: {', '.join(model.input_names)}")
        return name, _random_input(info)
    path = Path(src)
    if not path.is_file():
        raise CortadoError(f"input file not found: {path}")
    try:
        return name, np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise CortadoError(f"{path} is not a readable .npy array ({e})", hint="save inputs with numpy.save") from None


def _random_input(info: dict, rng=None) -> np.ndarray:
    from runtime.dtypes import numpy_dtype

    rng = rng or np.random.default_rng(0)
    shape = tuple(d if isinstance(d, int) else 1 for d in info["shape"])
    dt = numpy_dtype(info["dtype"])
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(0, 4, shape).astype(dt)


def cmd_run(args) -> int:
    import runtime

    progress = Progress(enabled=not args.quiet)
    if _is_artifact(args.model):
        progress.step("loading artifact")
        model = runtime.load(args.model, target=args.target)
    else:
        from .driver import compile as compile_model

        model = compile_model(args.model, weights=args.weights, random_weights=args.random_weights,
                              input_shapes=_input_shapes(args.shape), target=args.target,
                              opt_level=args.opt_level, progress=progress.step)
    feeds = dict(_load_input(s, model) for s in (args.input or []))
    for info in model.inputs:
        feeds.setdefault(info["name"], _random_input(info))
    progress.step(f"running on {model.target}")
    t0 = time.perf_counter()
    outputs = model.run(feeds)
    elapsed = time.perf_counter() - t0
    progress.done()
    print(f"ran on {model.target} ({model.target_reason}) in {elapsed:.3f}s")
    for name, arr in outputs.items():
        flat = arr.reshape(-1)
        head = np.array2string(flat[:6], precision=4, separator=", ")
        stats = f"min {flat.min():.4g} max {flat.max():.4g} mean {flat.astype(np.float64).mean():.4g}" \
            if flat.size and arr.dtype.kind in "fiu" else ""
        print(f"  {name}: {arr.dtype}{list(arr.shape)} {stats} {head}")
    if args.save_outputs:
        from runtime.loader import write_atomic

        out = Path(args.save_outputs)
        out.mkdir(parents=True, exist_ok=True)
        for name, arr in outputs.items():
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            write_atomic(out / (_safe_filename(name) + ".npy"), buf.getvalue())
        print(f"  saved {len(outputs)} output(s) to {out}")
    return 0


def _safe_filename(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "output"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cortado", description="Compile ONNX and Caffe models into fused Triton kernels.")
    p.add_argument("--version", action="version", version="cortado 0.1.0")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("compile", help="compile a model into a .cortado artifact")
    c.add_argument("model", help="model.onnx or net.prototxt")
    c.add_argument("-o", "--output", help="artifact path (folder, or .zip); default MODEL.cortado")
    w = c.add_mutually_exclusive_group()
    w.add_argument("--weights", help="Caffe .caffemodel weights")
    w.add_argument("--random-weights", action="store_true", help="seeded random weights (Caffe nets without weights)")
    c.add_argument("--input", action="append", metavar="NAME=1x3x224x224", help="fix or name an input's dims")
    c.add_argument("--target", default="auto", choices=["auto", "cuda", "interpreter"])
    c.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    c.add_argument("-O", dest="opt_level", type=int, default=2, choices=[0, 1, 2, 3], help="optimization level")
    c.add_argument("--arch", help="also compile kernels ahead of time, e.g. sm_80,sm_90")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    c.set_defaults(func=cmd_compile)

    r = sub.add_parser("run", help="run a model or artifact on random or given inputs")
    r.add_argument("model", help="a .cortado artifact, or a model to compile first")
    r.add_argument("--input", action="append", metavar="NAME=FILE.npy|random", help="an input (default: random)")
    r.add_argument("--shape", action="append", metavar="NAME=1x3x224x224", help="input dims when compiling")
    r.add_argument("--weights", help="Caffe .caffemodel weights (when compiling)")
    r.add_argument("--random-weights", action="store_true")
    r.add_argument("--target", default="auto", choices=["auto", "cuda", "interpreter"])
    r.add_argument("-O", dest="opt_level", type=int, default=2, choices=[0, 1, 2, 3])
    r.add_argument("--save-outputs", metavar="DIR", help="write each output as DIR/NAME.npy")
    r.add_argument("-q", "--quiet", action="store_true")
    r.set_defaults(func=cmd_run)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return args.func(args)
    except CortadoError as e:
        print(f"cortado {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("cortado: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

