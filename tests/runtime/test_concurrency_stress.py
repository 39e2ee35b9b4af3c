"""One compiled model called from many threads at once gives every caller its own right answer.

Eight threads, several calls each, batch sizes mixed so calls need differently sized buffers,
every output compared with onnxruntime. Run on a warm compiled model and on an artifact loaded
a moment before (its first calls race with loading its kernels and weights), and on one model
per thread (separate models still share Triton's interpreter). Each on both host targets:
the cpu target's numpy kernels run concurrently, without the interpreter's lock.
"""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado import runtime
from cortado.testing.reference import HOST_TARGETS

from concurrency_cases import cases, hammer, small_cnn

THREADS, CALLS = 8, 3


@pytest.fixture(scope="module")
def onnx_model():
    return small_cnn()


@pytest.fixture(scope="module", params=HOST_TARGETS)
def compiled(onnx_model, request):
    return cortado.compile(onnx_model, target=request.param)


@pytest.fixture(scope="module")
def plan(onnx_model):
    return cases(onnx_model, THREADS, CALLS)


def test_the_memory_plan_has_buffers_to_share(compiled):
    """Without intermediate buffers the tests below could not catch calls sharing them."""
    assert len(compiled.plan["buffers"]) >= 2
    assert "N" in compiled.plan["symbols"]


def test_one_warm_model_many_threads(compiled, plan):
    """``run``, ``model(x)`` and ``run(keep=...)`` mixed: all go through per-call buffers."""
    compiled.run({"image": np.zeros((1, 3, 8, 8), np.float32)})     # warm: kernels and weights loaded
    name = compiled.plan["steps"][0]["outputs"][0]

    def call(m, x):
        kind = int(x[0, 0, 0, 0] * 1e6) % 3
        if kind == 0:
            return m(x)
        if kind == 1:
            got = m.run({"image": x}, keep=[name])
            assert set(got) == {name, "probs"}
            return got["probs"]
        return m.run({"image": x})["probs"]

    out = hammer(lambda: compiled, plan, call=call)
    assert out.right == THREADS * CALLS, out.summary()


def test_freshly_loaded_artifact_many_threads(compiled, plan, tmp_path):
    loaded = runtime.load(compiled.save(tmp_path / "m.cortado"), target=compiled.target)
    out = hammer(lambda: loaded, plan)
    assert out.right == THREADS * CALLS, out.summary()
    assert loaded.max_buffer_sets >= 1
    assert loaded._pool.taken == 0, "every call gave its buffers back"
    assert loaded._pool.idle <= loaded.max_buffer_sets


def test_one_model_per_thread(compiled, plan, tmp_path):
    """Separate models still share Triton's interpreter."""
    path = compiled.save(tmp_path / "m.cortado")
    out = hammer(lambda: runtime.load(path, target=compiled.target), [mine[:2] for mine in plan[:4]])
    assert out.right == 4 * 2, out.summary()
