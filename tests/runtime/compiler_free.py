"""Running a saved artifact in a fresh process that has only ``cortado.runtime`` (and numpy):
the check that a deployed model needs no compiler, shared by the runtime tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def run_without_the_compiler(path: Path, cases: Sequence[tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]]],
                             folder: Path, *, rtol: float, atol: float = 0.0, then: str = "") -> None:
    """Load ``path`` on the interpreter target in a new process, run each ``(feeds, wanted
    outputs)`` case and compare every wanted output; ``then`` is more checks (Python source,
    ``out`` holding the last case's outputs). Fails if onnx, networkx, lark or any part of
    Cortado but its runtime was imported."""
    data = {}
    for i, (feeds, wanted) in enumerate(cases):
        data.update({f"{i}_{k}": v for k, v in feeds.items()})
        data.update({f"{i}_want_{k}": v for k, v in wanted.items()})
    np.savez(folder / "cases.npz", **data)
    inputs, outputs = tuple(cases[0][0]), tuple(cases[0][1])
    code = (
        "import sys, numpy as np\nfrom cortado import runtime\n"
        f"m = runtime.load({str(path)!r}, target='interpreter')\n"
        f"d = np.load({str(folder / 'cases.npz')!r})\n"
        f"for i in range({len(cases)}):\n"
        f"    out = m.run({{k: d[f'{{i}}_{{k}}'] for k in {inputs!r}}})\n"
        f"    for name in {outputs!r}:\n"
        f"        np.testing.assert_allclose(out[name], d[f'{{i}}_want_{{name}}'], rtol={rtol!r}, atol={atol!r})\n"
        + then +
        "bad = [k for k in sys.modules if k.split('.')[0] in ('onnx', 'networkx', 'lark')\n"
        "       or (k.startswith('cortado.') and not k.startswith('cortado.runtime'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
