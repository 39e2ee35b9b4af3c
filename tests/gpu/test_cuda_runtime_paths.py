"""The cuda runtime's code paths on a real GPU — the same ones tests/runtime/test_cuda_runtime_simulated.py
runs on the simulated device — and the numerics of the whole model set in float32, float16 and
bfloat16 against onnxruntime. A GPU session runs this file first."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnx
import pytest

import cortado
from cortado import runtime
from cortado.testing.reference import assert_close, assert_close_to_scale, run_onnxruntime

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny_cnn.onnx"


@pytest.fixture(scope="module")
def tiny():
    return onnx.load(str(TINY))


def images(batch, seed):
    return np.random.default_rng(seed).standard_normal((batch, 3, 32, 32)).astype(np.float32)


def reference(model, x):
    return run_onnxruntime(model, {"image": x})[0]


def test_direct_launches_and_batch_changes(tiny):
    m = cortado.compile(tiny, target="cuda", allow_tf32=False)
    for i, batch in enumerate([2, 2, 1, 16, 3]):      # second call: direct path with 1-D grids
        x = images(batch, i)
        assert_close(m(x), reference(tiny, x), what=f"call {i} batch {batch}")


def test_graph_replay_across_batch_changes_and_device_outputs(tiny):
    m = cortado.compile(tiny, target="cuda", allow_tf32=False).use_cuda_graph()
    for i, batch in enumerate([4, 4, 2, 4, 2]):
        x = images(batch, i)
        assert_close(m(x), reference(tiny, x), what=f"graph call {i} batch {batch}")
    a, b = images(4, 10), images(4, 11)
    out_a = m.run({"image": a}, outputs="device")["probs"]
    m.run({"image": b}, outputs="device")
    assert_close(m.device.to_host(out_a), reference(tiny, a), what="first device output after a second call")


def test_cubin_artifact_launches_without_jit(tiny, tmp_path):
    from cortado.codegen.aot import attach_cubins

    m = cortado.compile(tiny, target="cuda", allow_tf32=False)
    attach_cubins(m, [m.device.arch], workers=2)
    loaded = runtime.load(m.save(tmp_path / "t.cortado"), target="cuda")
    for i, batch in enumerate([3, 3, 1]):
        x = images(batch, i)
        assert_close(loaded(x), reference(tiny, x))
    assert len(loaded.device._cubins) == len(loaded.plan["steps"])
    assert not loaded.device._direct, "a step with a cubin went through the JIT"


def test_concurrent_calls_with_a_graph(tiny):
    m = cortado.compile(tiny, target="cuda", allow_tf32=False).use_cuda_graph()
    m(images(1, 0))
    xs = [images(2 + i % 2, i) for i in range(8)]
    results, errors = {}, []

    def call(i):
        try:
            results[i] = m(xs[i])
        except Exception as e:   # reported with its thread below
            errors.append((i, e))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, x in enumerate(xs):
        assert_close(results[i], reference(tiny, x), what=f"thread {i}")


def test_o3_tf32_choice_does_not_leak(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("CORTADO_CACHE_DIR", str(tmp_path))
    cortado.compile(tiny, target="cuda", opt_level=3, allow_tf32=True)
    exact = cortado.compile(tiny, target="cuda", opt_level=3, allow_tf32=False)
    assert not [s for s in exact.plan["steps"] if s["configs"]["cuda"].get("PRECISION") == "tf32"]
    x = images(2, 0)
    assert_close(exact(x), reference(tiny, x))


def _model_set():
    from benchmarks.model_set import ARCHITECTURES

    return ARCHITECTURES


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", _model_set())
def test_model_set_numerics(name, dtype):
    from benchmarks.model_set import build, inputs

    model = build(name, 1)
    feeds = inputs(name, model, 1)
    refs = run_onnxruntime(model, feeds)
    m = cortado.compile(model, target="cuda", dtype=dtype, allow_tf32=False)
    got = m.run(feeds)
    for out, ref in zip(m.output_names, refs):
        if dtype == "float32":
            assert_close(got[out], ref, what=f"{name}:{out}")
        else:
            assert_close_to_scale(got[out], ref, dtype=dtype, what=f"{name}:{out} {dtype}")
