"""The nine ONNX light architectures with seeded random weights vs onnxruntime (fp32).

Each model is compiled once per opt level and checked on a random input: the softmax output
and the logits before it (a saturated softmax alone would hide errors).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import cortado
from cortado.testing.models import LIGHT_MODELS, light_model, light_path
from cortado.testing.reference import HOST_TARGETS, assert_close, run_onnxruntime


# The numpy kernels (cpu) are checked unfused (O0) and fused (O2). The Triton kernels on the
# interpreter are checked fused, as a GPU runs them; their unfused forms are the ONNX node
# cases' (tests/conformance), where a whole ImageNet model at O0 took minutes of the suite.
LEVELS_BY_TARGET = {"interpreter": (2,), "cpu": (0, 2)}
CASES = [(level, target) for target in HOST_TARGETS for level in LEVELS_BY_TARGET[target]]


@pytest.mark.slow
@pytest.mark.parametrize("opt_level,target", CASES, ids=[f"{level}-{target}" for level, target in CASES])
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_matches_onnxruntime(name, opt_level, target):
    """Fused (O2) kernels match onnxruntime on each host target, unfused (O0) ones on cpu."""
    model = light_model(name, seed=0)
    m = cortado.compile(model, target=target, opt_level=opt_level)
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    got = m.run({m.input_names[0]: x})
    expected = run_onnxruntime(model, {m.input_names[0]: x})
    for out, ref in zip(m.output_names, expected):
        assert_close(got[out], ref, what=f"{name}:{out}")
    logits = expected[-1]
    assert np.std(logits) > 1e-3, "random weights should give input-dependent logits"


@pytest.mark.parametrize("name", ["bvlc_alexnet", "resnet50"])
def test_shipped_constant_weight_output_smoke(name):
    """The shipped reference output (constant weights) as a smoke test. Some light models
    (squeezenet) reach activations near 1e10 with constant weights, where float rounding
    order alone changes the softmax: those are checked with random weights only."""
    path = light_path(name)
    m = cortado.compile(str(path), target="interpreter", opt_level=0)
    x = np.random.default_rng(0).random((1, 3, 224, 224)).astype(np.float32)   # images are non-negative
    expected = numpy_helper.to_array(onnx.load_tensor(str(path).replace(".onnx", "_output_0.pb")))
    np.testing.assert_allclose(m(x), expected, rtol=1e-3, atol=1e-4)
