"""The concurrency stress test on the cuda target: many threads, one model, with and without
CUDA graphs, host and device outputs. Skips without a usable GPU (tests/gpu/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import cortado
from cortado import runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
from concurrency_cases import cases, hammer, small_cnn  # noqa: E402

THREADS, CALLS = 8, 6


@pytest.fixture(scope="module")
def onnx_model():
    return small_cnn()


@pytest.fixture(scope="module")
def plan(onnx_model):
    return cases(onnx_model, THREADS, CALLS, seed=11)


def _compiled(onnx_model, graphs: bool):
    m = cortado.compile(onnx_model, target="cuda", allow_tf32=False)
    return m.use_cuda_graph(graphs)


@pytest.mark.parametrize("graphs", [False, True], ids=["streams", "cuda-graph"])
def test_one_warm_model_many_threads(onnx_model, plan, graphs):
    m = _compiled(onnx_model, graphs)
    for n in (1, 2):                  # warm; with graphs, the first run captures batch 1
        m.run({"image": np.zeros((n, 3, 8, 8), np.float32)})
    out = hammer(lambda: m, plan)
    assert out.right == THREADS * CALLS, out.summary()


@pytest.mark.parametrize("graphs", [False, True], ids=["streams", "cuda-graph"])
def test_freshly_loaded_artifact_many_threads(onnx_model, plan, graphs, tmp_path):
    path = _compiled(onnx_model, False).save(tmp_path / "m.cortado")
    loaded = runtime.load(path, target="cuda").use_cuda_graph(graphs)
    out = hammer(lambda: loaded, plan)
    assert out.right == THREADS * CALLS, out.summary()


@pytest.mark.parametrize("graphs", [False, True], ids=["streams", "cuda-graph"])
def test_device_outputs_are_never_overwritten(onnx_model, plan, graphs):
    """Each thread keeps every device result it got and reads them all back only at the end:
    a later launch (another caller's, or a graph replay) writing into one shows up here."""
    m = _compiled(onnx_model, graphs)
    m.run({"image": np.zeros((1, 3, 8, 8), np.float32)})
    held: list = []

    def call(model, x):
        t = model.run({"image": x}, outputs="device")["probs"]
        held.append((t, x))
        return model.device.to_host(t)

    out = hammer(lambda: m, plan, call=call)
    assert out.right == THREADS * CALLS, out.summary()
    refs = {id(x): ref for mine in plan for x, ref in mine}
    for t, x in held:
        np.testing.assert_allclose(m.device.to_host(t), refs[id(x)], rtol=1e-3, atol=1e-4)
