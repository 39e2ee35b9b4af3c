"""Fixtures for tests of the command-line tools: the CLI in a subprocess, scripts in-process."""

from __future__ import annotations

import contextlib
import io
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "examples" / "tiny_cnn.onnx"


def _cortado(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cortado.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT)


def _run_script(path: Path, *args: str) -> tuple[int, str]:
    """Run a generated script as ``__main__`` in this process (no interpreter start-up per script).

    The scripts switch Triton's interpret knob before defining their kernels; it is restored."""
    import triton

    old_knob, old_argv = triton.knobs.runtime.interpret, sys.argv
    sys.argv = [str(path), *args]
    out = io.StringIO()
    code = 0
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(path), run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old_argv
        triton.knobs.runtime.interpret = old_knob
    return code, out.getvalue()


@pytest.fixture(scope="session")
def cortado():
    """``cortado(*args)``: the CLI in a subprocess (exit codes and stderr as a user sees them)."""
    return _cortado


@pytest.fixture(scope="session")
def run_script():
    """``run_script(path, *args) -> (exit code, stdout)`` for generated scripts."""
    return _run_script


@pytest.fixture(scope="session")
def tiny() -> Path:
    return TINY
