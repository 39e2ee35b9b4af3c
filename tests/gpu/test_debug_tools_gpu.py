"""Repro scripts and debug-numerics on a real GPU (tf32 dots, device memory, offsets)."""

import subprocess
import sys
from pathlib import Path

import numpy as np

import cortado
from cortado.codegen.repro import write_repro
from cortado.debug_numerics import check_numerics, render_text

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny_cnn.onnx"


def test_repro_scripts_pass_on_cuda(tmp_path):
    m = cortado.compile(str(TINY), input_shapes={"image": (2, 3, 32, 32)}, target="cuda")
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    for script in write_repro(m, tmp_path, {"image": x}, seed=0):
        r = subprocess.run([sys.executable, str(script), "--target", "cuda"], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "on cuda" in r.stdout


def test_debug_numerics_on_cuda():
    report = check_numerics(str(TINY), input_shapes={"image": (2, 3, 32, 32)}, target="cuda")
    assert report.target == "cuda"
    assert report.ok, render_text(report)
