"""NaN and infinities in the data flow through every kernel kind as onnxruntime computes them,
and never crash a kernel or the runtime."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from onnx import helper, numpy_helper

import cortado
from cortado.testing.reference import HOST_TARGETS, run_onnxruntime
from robust_cases import onnx_model, time_limit, vi

SPECIALS = np.array([np.nan, np.inf, -np.inf], np.float32)


def poisoned(shape, seed: int) -> np.ndarray:
    """Random data with NaN, +Inf and -Inf sprinkled in (about one element in six)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    mask = rng.random(shape) < 0.17
    x[mask] = rng.choice(SPECIALS, int(mask.sum()))
    return x


def weight(name, shape, seed=0):
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), name)


def elementwise():
    nodes = [helper.make_node("Add", ["x", "x"], ["a"]), helper.make_node("Sigmoid", ["a"], ["s"]),
             helper.make_node("Exp", ["x"], ["e"]), helper.make_node("Mul", ["s", "e"], ["m"]),
             helper.make_node("Tanh", ["m"], ["t"]), helper.make_node("Sqrt", ["x"], ["q"]),
             helper.make_node("Sub", ["t", "q"], ["y"])]
    return onnx_model(nodes, [vi("x", [3, 7])], [vi("y", None)])


def activations():
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("LeakyRelu", ["x"], ["l"], alpha=0.1),
             helper.make_node("Clip", ["x", "lo", "hi"], ["c"]), helper.make_node("Add", ["r", "l"], ["a"]),
             helper.make_node("Add", ["a", "c"], ["y"])]
    lo, hi = (numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("lo", -1.0), ("hi", 1.0)))
    return onnx_model(nodes, [vi("x", [3, 7])], [vi("y", None)], [lo, hi])


def contraction():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Gemm", ["h", "w2", "b"], ["y"], transB=1)]
    return onnx_model(nodes, [vi("x", [4, 6])], [vi("y", None)],
                      [weight("w", (6, 5)), weight("w2", (3, 5), 1), weight("b", (3,), 2)])


def conv_pool():
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("MaxPool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("AveragePool", ["x"], ["a"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["p"], ["g"]),
             helper.make_node("Add", ["g", "a"], ["y"])]
    return onnx_model(nodes, [vi("x", [1, 2, 6, 6])], [vi("y", None)], [weight("w", (2, 2, 3, 3)), weight("b", (2,))])


def softmax():
    nodes = [helper.make_node("Softmax", ["x"], ["s"], axis=-1), helper.make_node("LogSoftmax", ["x"], ["l"], axis=0),
             helper.make_node("Concat", ["s", "l"], ["y"], axis=0)]
    return onnx_model(nodes, [vi("x", [3, 9])], [vi("y", None)])


def max_pool_windows():
    """MaxPool over windows of -inf, and (pads as wide as the dilated window allows) of padding
    alone: onnxruntime starts each max from float32's lowest finite value, so both give it."""
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2], strides=[1]),
             helper.make_node("MaxPool", ["x"], ["q"], kernel_shape=[2], strides=[1], dilations=[2], pads=[1, 1]),
             helper.make_node("Concat", ["p", "q"], ["y"], axis=2)]
    return onnx_model(nodes, [vi("x", [1, 2, 9])], [vi("y", None)])


MODELS = {"elementwise": elementwise, "activations": activations, "contraction": contraction,
          "conv_pool": conv_pool, "softmax": softmax}


@pytest.mark.parametrize("target", HOST_TARGETS)
@pytest.mark.parametrize("opt_level", [0, 2])
@pytest.mark.parametrize("name", MODELS)
def test_specials_propagate_like_onnxruntime(name, opt_level, target):
    model = MODELS[name]()
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = poisoned(shape, seed=len(name))
    expected = run_onnxruntime(model, {"x": x})[0]
    with time_limit(60), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)    # special values are data, not warnings
        got = cortado.compile(model, target=target, opt_level=opt_level).run({"x": x})["y"]
    # the same elements are NaN, the same are +-Inf, and the finite rest agrees
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("target", HOST_TARGETS)
@pytest.mark.parametrize("opt_level", [0, 2])
def test_max_pool_of_minus_inf_and_of_padding_alone(opt_level, target):
    """A window of -inf values gives -inf (as onnx.reference and onnxruntime's dilated path do;
    its plain path gives float32's lowest value instead). A window of padding alone has no
    element to take the max of: Cortado gives float32's lowest value, as onnxruntime does
    (onnx.reference gives NaN). NaN is left out: onnxruntime's paths treat it differently."""
    model = max_pool_windows()
    x = np.random.default_rng(0).standard_normal((1, 2, 9)).astype(np.float32)
    x[0, 0, :4] = -np.inf
    x[0, 1, ::2] = -np.inf
    got = cortado.compile(model, target=target, opt_level=opt_level).run({"x": x})["y"]
    plain, dilated = got[..., :8], got[..., 8:]
    windows = np.lib.stride_tricks.sliding_window_view(x, 2, axis=2)
    np.testing.assert_array_equal(plain, windows.max(axis=-1))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1)), constant_values=np.nan)
    taps = np.stack([padded[..., 0:9], padded[..., 2:11]], axis=-1)     # dilation 2, pads 1
    expected = np.where(np.isnan(taps).all(-1), np.finfo(np.float32).min, np.nanmax(taps, axis=-1))
    np.testing.assert_array_equal(dilated, expected)
    assert np.isneginf(got).any()


@pytest.mark.parametrize("target", HOST_TARGETS)
def test_a_window_of_padding_alone_gives_the_lowest_float_as_onnxruntime(target):
    x = np.full((1, 2, 1), 2.0, np.float32)
    model = onnx_model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2], dilations=[2], pads=[1, 1])],
                       [vi("x", [1, 2, 1])], [vi("y", None)])
    expected = run_onnxruntime(model, {"x": x})[0]
    assert (expected == np.finfo(np.float32).min).all()
    for level in (0, 2):
        got = cortado.compile(model, target=target, opt_level=level).run({"x": x})["y"]
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("target", HOST_TARGETS)
def test_all_nan_input_runs(target):
    model = conv_pool()
    x = np.full((1, 2, 6, 6), np.nan, np.float32)
    got = cortado.compile(model, target=target).run({"x": x})["y"]
    assert np.isnan(got).all()
