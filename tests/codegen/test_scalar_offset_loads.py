"""Loads whose offset varies only with program ids or loop counters are scalars inside a
tiled kernel: they must be widened to the tile before taking the tile's mask (Triton refuses a
block mask on a scalar pointer), and guards over loop counters alone must stay boolean."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import cortado
from cortado.testing.reference import assert_close, run_onnxruntime


def _model(nodes, inputs, inits, opset=13):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_operatorsetid("", opset)])


def test_gemm_epilogue_reading_a_per_batch_value():
    # the bias varies with the batch entry only: at O2 it is read in the GEMM epilogue at pid_b
    rng = np.random.default_rng(0)
    model = _model([helper.make_node("MatMul", ["a", "b"], ["ab"]), helper.make_node("Add", ["ab", "bias"], ["y"])],
                   [("a", [3, 4, 5]), ("b", [3, 5, 6])], {"bias": rng.standard_normal((3, 1, 1)).astype(np.float32)})
    feeds = {"a": rng.standard_normal((3, 4, 5)).astype(np.float32),
             "b": rng.standard_normal((3, 5, 6)).astype(np.float32)}
    for level in (0, 2):
        m = cortado.compile(model, target="interpreter", opt_level=level)
        assert_close(m.run(feeds)["y"], run_onnxruntime(model, feeds)[0], what=f"O{level}")


def test_pool_window_with_a_one_pixel_output():
    # every output coordinate is 0, so the window taps depend on the loop counters alone
    model = _model([helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[3, 3],
                                     pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=0)], [("x", [1, 1, 2, 2])], {})
    x = np.random.default_rng(1).standard_normal((1, 1, 2, 2)).astype(np.float32)
    m = cortado.compile(model, target="interpreter", opt_level=0)
    assert_close(m(x), run_onnxruntime(model, {"x": x})[0])


def test_conv_bounds_over_the_reduction_axis_keep_the_operand_shape():
    # a length-1 input padded by 2: the bound check of the input tile depends on rk alone,
    # which is a tile variable of the [BM, BK] operand, not a scalar
    rng = np.random.default_rng(2)
    model = _model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[2, 2])], [("x", [1, 4, 1])],
                   {"w": rng.standard_normal((4, 4, 5)).astype(np.float32)})
    x = rng.standard_normal((1, 4, 1)).astype(np.float32)
    m = cortado.compile(model, target="interpreter", opt_level=0)
    assert_close(m(x), run_onnxruntime(model, {"x": x})[0])
