"""Print what fusion does to each architecture of the model set, as a Markdown table.

    python benchmarks/model_table.py [--models resnet50,bert_encoder] [--dtype float16] [--batch 1]

For every architecture: nodes imported, kernels at O0 (one per node) and O2 (fused), the
estimated bytes the kernels move through GPU memory at O0 and O2 and their ratio, the peak
bytes of intermediate buffers at O0 and O2, and compile seconds at O2. It only compiles —
no kernel runs — so it takes seconds on any CPU. An architecture Cortado cannot compile
yet gets a row saying why.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cortado  # noqa: E402
from cortado.errors import CortadoError, UnsupportedOpError  # noqa: E402

from benchmarks.model_set import build, parse_names  # noqa: E402

COLUMNS = ("model", "nodes in", "kernels O0", "kernels O2", "est. HBM O0", "est. HBM O2", "HBM O2/O0",
           "peak O0", "peak O2", "compile O2 (s)")


def measure(name: str, model, dtype: str = "float32") -> dict:
    """Stats of ``model`` compiled at O0 and O2 (keys as in ``COLUMNS``), or an ``error``."""
    row: dict = {"model": name}
    try:
        for level in (0, 2):
            s = cortado.compile(model, target="interpreter", opt_level=level, dtype=dtype).stats
            row["nodes in"] = s["nodes_in"]
            row[f"kernels O{level}"] = s["kernels"]
            row[f"est. HBM O{level}"] = s["est_hbm_bytes"]
            row[f"peak O{level}"] = s["peak_bytes"]
            row[f"compile O{level} (s)"] = s["compile_seconds"]
    except UnsupportedOpError as e:
        row["error"] = "unsupported: " + ", ".join(sorted({op for op, _, _ in e.items}))
    except CortadoError as e:
        row["error"] = f"error: {e.message.splitlines()[0]}"
    if "error" not in row:
        row["HBM O2/O0"] = row["est. HBM O2"] / row["est. HBM O0"]
    return row


def mib(n) -> str:
    return f"{n / 2**20:.1f} MiB" if isinstance(n, (int, float)) else str(n)


def cell(key: str, value) -> str:
    if key in ("est. HBM O0", "est. HBM O2", "peak O0", "peak O2"):
        return mib(value)
    if key == "HBM O2/O0":
        return f"{value:.2f}"
    if key == "compile O2 (s)":
        return f"{value:.2f}"
    return str(value)


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(" --- " for _ in COLUMNS) + "|"]
    for r in rows:
        if "error" in r:
            cells = [r["model"], str(r.get("nodes in", "")), r["error"]] + [""] * (len(COLUMNS) - 3)
        else:
            cells = [cell(k, r[k]) for k in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", help="comma-separated architectures (default: the whole model set)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--batch", type=int, default=1)
    args = p.parse_args(argv)
    rows = []
    for name in parse_names(args.models):
        print(f"compiling {name} ...", file=sys.stderr, flush=True)
        rows.append(measure(name, build(name, args.batch), args.dtype))
    print(f"Model set, batch {args.batch}, {args.dtype}; est. HBM = bytes the kernels read and write.\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
