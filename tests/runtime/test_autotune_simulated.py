"""O3 autotuning on a simulated GPU: cache entries cannot leak a tf32 choice into a compile
that forbids tf32, and they record (and are keyed by) the architecture they were tuned on."""

from __future__ import annotations

import json

import cortado
from cortado.autotune import cached_config
from cortado.testing.reference import assert_close, run_onnxruntime

from simulated_gpu import SimulatedGpu
from small_cnn import images, small_cnn


def tf32_is_fastest(op) -> float:
    """A clock on which every tf32 kernel wins (a tuner must still never pick it when forbidden)."""
    return 0.001 if "tf32" in repr(op.args) else 0.01


def test_cached_tf32_choice_does_not_leak_and_entries_record_the_arch(tmp_path, monkeypatch):
    monkeypatch.setenv("CORTADO_CACHE_DIR", str(tmp_path))
    model = small_cnn()
    fast = cortado.compile(model, target=SimulatedGpu(kernel_ms=tf32_is_fastest), opt_level=3, allow_tf32=True)
    tuned = len([s for s in fast.plan["steps"] if s.get("tune")])
    assert tuned >= 2 and fast.stats["autotune"]["tuned"] == tuned
    assert any(s["configs"]["cuda"].get("PRECISION") == "tf32" for s in fast.plan["steps"])
    exact = cortado.compile(model, target=SimulatedGpu(kernel_ms=tf32_is_fastest), opt_level=3, allow_tf32=False)
    leaked = [s["kernel"] for s in exact.plan["steps"] if s["configs"]["cuda"].get("PRECISION") == "tf32"]
    assert not leaked, f"allow_tf32=False compile took cached tf32 configs for {leaked}"
    x = images(2, 0)
    assert_close(exact(x), run_onnxruntime(model, {"image": x})[0])
    entries = json.loads((tmp_path / "autotune.json").read_text())
    assert entries and all(e["arch"] == "sm_90" and e["device"] == "Simulated H200" for e in entries.values())

    again = cortado.compile(model, target=SimulatedGpu(kernel_ms=tf32_is_fastest), opt_level=3, allow_tf32=True)
    assert again.stats["autotune"]["cached"] == tuned      # same GPU: nothing tuned twice
    step = next(s for s in again.plan["steps"] if s.get("tune"))
    entry = next(iter(entries.values()))
    assert cached_config(entry, step, SimulatedGpu(arch="sm_80")) is None   # another architecture tunes afresh
