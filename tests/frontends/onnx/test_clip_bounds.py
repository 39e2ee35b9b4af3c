"""Clip with each combination of its optional bounds, alone and read by Relu, on a scalar and
on a tensor, at O0 and O2, against onnxruntime.

An absent optional input once shifted the operands a fused kernel's lowering saw, so
``Clip(x, None, max)`` computed ``max(x, max)``: 1.0 for a small x instead of x. The
importer passed the missing bound as an infinite constant to hide it; the IR keeps the
bound absent now, so these models reach the lowering with the gap in place.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnx_helpers import check_against_onnxruntime

from cortado.frontends.onnx import import_onnx
from cortado.ir import Op

BOUNDS = {"neither": (None, None), "min-only": (-0.5, None), "max-only": (None, 0.3), "both": (-0.5, 0.3)}


def clip_model(shape, lo, hi, *, relu: bool, bounds_as_inputs: bool = False) -> onnx.ModelProto:
    """x -> Clip(x, lo?, hi?) [-> Relu] -> y; a missing bound is the empty input name."""
    inputs = [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, shape)]
    inits, names = [], ["x"]
    for name, b in (("lo", lo), ("hi", hi)):
        if b is None:
            names.append("")
        elif bounds_as_inputs:
            inputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, []))
            names.append(name)
        else:
            inits.append(numpy_helper.from_array(np.array(b, np.float32), name))
            names.append(name)
    while names[-1] == "":
        names.pop()
    nodes = [helper.make_node("Clip", names, ["c" if relu else "y"])]
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    g = helper.make_graph(nodes, "clip", inputs, [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, shape)],
                          inits)
    return helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 13)])


def feeds_for(shape, lo, hi, bounds_as_inputs=False):
    # values on both sides of both bounds (a scalar draw lands inside them: the failing case)
    x = np.array(0.125, np.float32) if shape == [] else \
        np.linspace(-2, 2, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    feeds = {"x": x}
    if bounds_as_inputs:
        feeds.update({k: np.array(b, np.float32) for k, b in (("lo", lo), ("hi", hi)) if b is not None})
    return feeds


@pytest.mark.parametrize("opt_level", [0, 2])
@pytest.mark.parametrize("shape", [[], [3, 4]], ids=["scalar", "tensor"])
@pytest.mark.parametrize("bounds", list(BOUNDS), ids=list(BOUNDS))
@pytest.mark.parametrize("relu", [False, True], ids=["clip", "clip-relu"])
def test_clip_bounds_match_onnxruntime(bounds, shape, opt_level, relu):
    lo, hi = BOUNDS[bounds]
    check_against_onnxruntime(clip_model(shape, lo, hi, relu=relu), feeds_for(shape, lo, hi), opt_level=opt_level)


@pytest.mark.parametrize("bounds", ["min-only", "max-only"])
def test_runtime_bounds_match_onnxruntime(bounds):
    """Bounds that are graph inputs (not literals in the kernel) keep their positions too."""
    lo, hi = BOUNDS[bounds]
    check_against_onnxruntime(clip_model([3, 4], lo, hi, relu=True, bounds_as_inputs=True),
                              feeds_for([3, 4], lo, hi, bounds_as_inputs=True))


def test_a_missing_bound_stays_absent_in_the_ir():
    """The importer does not stand an infinite constant in for a missing bound, so the tests
    above reach codegen with the gap (a filled-in bound would hide a lowering that shifts)."""
    g = import_onnx(clip_model([3, 4], None, 0.3, relu=False))
    (clip,) = [n for n in g.nodes if n.op is Op.CLIP]
    assert clip.inputs[1] is None and clip.inputs[2] is not None
