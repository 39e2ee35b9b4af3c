"""Cold and warm compile seconds of ``cortado compile``, with and without ``--arch``.

    python benchmarks/compile_time.py [--models resnet18,tiny_cnn] [--arch sm_80,sm_90]

Each compile is a fresh ``cortado compile MODEL -o DIR`` process (imports included, as a user
sees it). *Cold* starts from empty cache folders (Cortado's ``$CORTADO_CACHE_DIR``, which holds
the cubin cache, and Triton's ``$TRITON_CACHE_DIR``); *warm* repeats the same command with the
caches the cold run left. Without ``--arch`` no cubin is built (kernels compile on a GPU's
first call); with it, each kernel is built once per launch config the plan uses and per
architecture, in parallel worker processes, and read back from the cubin cache on a warm run.
The models are those of ``benchmarks/cpu_table.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import onnx  # noqa: E402

from benchmarks.cpu_table import build  # noqa: E402

MODELS = ("resnet18", "mobilenet_v2", "bert_layer_s128", "tiny_cnn_b1")
CLI = [sys.executable, "-c", "import sys; from cortado.cli import main; sys.exit(main())"]


def compile_seconds(model_path: Path, out: Path, cache: Path, arch: str | None) -> float:
    env = dict(os.environ, CORTADO_CACHE_DIR=str(cache / "cortado"), TRITON_CACHE_DIR=str(cache / "triton"))
    cmd = CLI + ["compile", str(model_path), "-o", str(out), "-q"] + (["--arch", arch] if arch else [])
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--arch", default="sm_80,sm_90")
    args = p.parse_args(argv)
    print(f"| model | cold, no --arch (s) | warm, no --arch (s) | cold, --arch {args.arch} (s) | "
          f"warm, --arch {args.arch} (s) |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in args.models.split(","):
            model, _ = build(name.strip())
            path = tmp / f"{name}.onnx"
            onnx.save(model, path)
            times = []
            for arch in (None, args.arch):
                cache = tmp / f"cache-{name}-{arch or 'none'}"
                for _ in ("cold", "warm"):
                    times.append(compile_seconds(path, tmp / f"{name}.cortado", cache, arch))
            print(f"| {name} | " + " | ".join(f"{t:.1f}" for t in times) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
