"""How long the command line takes to start: ``cortado --help`` and ``cortado check MODEL``.

    python benchmarks/cli_startup.py                 # median of 7 runs of each command
    python benchmarks/cli_startup.py --runs 15 --importtime

Each command runs in a fresh interpreter, as a user starts it. Two numbers per command: the
median wall-clock time, and the median CPU time (user + system) of the process, which is what
the command costs by itself and stays honest on a machine busy with other work. The target
is under 0.5 s for both commands on a 2-core machine. ``--importtime`` adds the slowest
imports of one run of each command (``python -X importtime``), to find what to make lazy.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 0.5

COMMANDS = {
    "cortado --help": ["--help"],
    "cortado check tiny_cnn.onnx": ["check", str(ROOT / "examples" / "tiny_cnn.onnx")],
}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_command(args: list[str], runs: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of ``python -m cortado.cli ARGS``."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu0, t0 = _children_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "cortado.cli", *args], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        walls.append(time.perf_counter() - t0)
        cpus.append(_children_cpu() - cpu0)
    return statistics.median(walls), statistics.median(cpus)


def slowest_imports(args: list[str], top: int = 8) -> list[tuple[float, str]]:
    """The ``top`` imports with the largest cumulative time, in seconds."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "cortado.cli", *args], capture_output=True,
                       text=True, check=False)
    rows = []
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|", 2)
            if cumulative.strip().isdigit():
                rows.append((int(cumulative) / 1e6, name.rstrip()))
    return sorted(rows, reverse=True)[:top]


def precompile() -> None:
    """Byte-compile Cortado's modules as ``pip install`` does for a wheel. An editable install
    under ``PYTHONDONTWRITEBYTECODE=1`` would otherwise recompile every module on every start
    (0.6 s of the 0.7 s ``cortado check`` took here), which no installed user pays."""
    import compileall

    import cortado

    folders = {Path(cortado.__file__).parent}
    for sub in ("passes", "codegen", "runtime"):
        folders.add(Path(__import__(f"cortado.{sub}", fromlist=["_"]).__file__).parent)
    for folder in sorted(folders):
        compileall.compile_dir(str(folder), quiet=1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=7, help="runs per command (default 7)")
    p.add_argument("--importtime", action="store_true", help="also list the slowest imports of each command")
    p.add_argument("--no-precompile", action="store_true",
                   help="do not byte-compile Cortado's modules first (see precompile)")
    args = p.parse_args(argv)
    if not args.no_precompile:
        precompile()
    # one warm-up run, so that the first row does not pay for writing .pyc files
    subprocess.run([sys.executable, "-m", "cortado.cli", "--help"], stdout=subprocess.DEVNULL, check=False)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; median of {args.runs} runs\n")
    print(f"| command | wall s | CPU s | under {TARGET_SECONDS} s (CPU) |")
    print("| --- | --- | --- | --- |")
    for label, cmd in COMMANDS.items():
        wall, cpu = time_command(cmd, args.runs)
        print(f"| {label} | {wall:.3f} | {cpu:.3f} | {'yes' if cpu < TARGET_SECONDS else 'NO'} |")
    if args.importtime:
        for label, cmd in COMMANDS.items():
            print(f"\nslowest imports of {label} (cumulative s):")
            for seconds, name in slowest_imports(cmd):
                print(f"  {seconds:7.3f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
