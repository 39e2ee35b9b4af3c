"""The cuda target against the interpreter and the references, on a real GPU."""

from pathlib import Path

import numpy as np
import pytest

import cortado
from cortado import runtime
from cortado.testing.models import LIGHT_MODELS, light_model
from cortado.testing.reference import assert_close, run_onnxruntime

TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny_cnn.onnx"


def test_auto_picks_cuda():
    m = cortado.compile(str(TINY))
    assert m.target == "cuda"


def test_tiny_cnn_matches_interpreter():
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    gpu = cortado.compile(str(TINY), target="cuda", allow_tf32=False)
    cpu = cortado.compile(str(TINY), target="interpreter")
    assert_close(gpu(x), cpu(x))


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_models_on_gpu(name):
    model = light_model(name)
    m = cortado.compile(model, target="cuda", allow_tf32=False)
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    got = m.run({m.input_names[0]: x})
    for out, ref in zip(m.output_names, run_onnxruntime(model, {m.input_names[0]: x})):
        assert_close(got[out], ref, what=f"{name}:{out}")


def test_artifact_runs_on_gpu(tmp_path):
    m = cortado.compile(str(TINY), target="cuda")
    m.save(tmp_path / "t.cortado")
    loaded = runtime.load(tmp_path / "t.cortado", target="cuda")
    x = np.ones((2, 3, 32, 32), np.float32)
    np.testing.assert_allclose(loaded(x), m(x), rtol=1e-5, atol=1e-6)
