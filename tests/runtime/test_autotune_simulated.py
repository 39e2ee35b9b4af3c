"""O3 autotuning on a simulated GPU: cache entries cannot leak a tf32 choice into a compile
that forbids tf32, and they record (and are keyed by) the architecture they were tuned on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx

import cortado
from cortado.testing.reference import assert_close, run_onnxruntime

from simulated_gpu import SimulatedGpu

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny_cnn.onnx"


def tf32_is_fastest(op) -> float:
    """A clock on which every tf32 kernel wins (a tuner must still never pick it when forbidden)."""
    return 0.001 if "tf32" in repr(op.args) else 0.01


def test_cached_tf32_choice_does_not_leak_and_entries_record_the_arch(tmp_path, monkeypatch):
    monkeypatch.setenv("CORTADO_CACHE_DIR", str(tmp_path))
    model = onnx.load(str(TINY))
    fast = cortado.compile(model, target=SimulatedGpu(kernel_ms=tf32_is_fastest), opt_level=3, allow_tf32=True)
    assert fast.stats["autotune"]["tuned"] == 3
    assert any(s["configs"]["cuda"].get("PRECISION") == "tf32" for s in fast.plan["steps"])
    exact = cortado.compile(model, target=SimulatedGpu(kernel_ms=tf32_is_fastest), opt_level=3, allow_tf32=False)
    leaked = [s["kernel"] for s in exact.plan["steps"] if s["configs"]["cuda"].get("PRECISION") == "tf32"]
    assert not leaked, f"allow_tf32=False compile took cached tf32 configs for {leaked}"
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    assert_close(exact(x), run_onnxruntime(model, {"image": x})[0])
    entries = json.loads((tmp_path / "autotune.json").read_text())
    assert entries and all(e["arch"] == "sm_90" and e["device"] == "Simulated H200" for e in entries.values())

    again = cortado.compile(model, target=SimulatedGpu(kernel_ms=tf32_is_fastest), opt_level=3, allow_tf32=True)
    assert again.stats["autotune"]["cached"] == 3       # same GPU: nothing tuned twice
    other = cortado.compile(model, target=SimulatedGpu(arch="sm_80", kernel_ms=tf32_is_fastest), opt_level=3,
                            allow_tf32=True)
    assert other.stats["autotune"]["cached"] == 0       # another architecture tunes afresh
