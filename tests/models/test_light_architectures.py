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
from cortado.testing.reference import HOST_TARGETS, assert_close, assert_close_to_scale, run_onnxruntime


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


@pytest.mark.parametrize("target", HOST_TARGETS)
@pytest.mark.parametrize("name", ["bvlc_alexnet", "resnet50"])
def test_shipped_constant_weight_output_smoke(name, target):
    """The shipped reference output (constant weights) as a smoke test, unfused (O0).

    Constant weights make the logits huge and equal in exact arithmetic (AlexNet's are about
    3.7e12, where one float32 step is 262,144), so the softmax over them is decided by the
    order each column's sum is taken in, not by the kernels being right: the logits are
    compared with onnxruntime's relative to their scale on both host targets, and the shipped
    softmax itself where the summation order matches onnxruntime's (the cpu target's numpy
    matmul). Some light models (squeezenet) reach 1e10 in their activations already: those
    are checked with random weights only."""
    path = light_path(name)
    model = onnx.load(str(path))
    logits = next(n for n in reversed(model.graph.node) if n.op_type == "Softmax").input[0]
    producers = {o: n for n in model.graph.node for o in n.output}
    while producers[logits].op_type in ("Reshape", "Flatten"):      # free reshapes are not kept
        logits = producers[logits].input[0]
    m = cortado.compile(model, target=target, opt_level=0)
    x = np.random.default_rng(0).random((1, 3, 224, 224)).astype(np.float32)   # images are non-negative
    got = m.run({m.input_names[0]: x}, keep=True)
    softmax = next(st for st in m.plan["steps"] if st["kernel"].startswith("softmax"))
    read = softmax["args"][0]["value"]
    read = m.plan["alias_of"].get(read, read)           # through a free reshape
    with_logits = onnx.ModelProto()
    with_logits.CopyFrom(model)
    with_logits.graph.output.append(onnx.helper.make_tensor_value_info(logits, onnx.TensorProto.FLOAT, None))
    ref_logits = run_onnxruntime(with_logits, {m.input_names[0]: x})[-1]
    assert_close_to_scale(got[read].ravel(), ref_logits.ravel(), fraction=1e-5, what=f"{name} logits")
    if target == "cpu":
        expected = numpy_helper.to_array(onnx.load_tensor(str(path).replace(".onnx", "_output_0.pb")))
        np.testing.assert_allclose(got[m.output_names[0]], expected, rtol=1e-3, atol=1e-4)
