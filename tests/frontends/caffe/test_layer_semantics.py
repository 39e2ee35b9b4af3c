"""Caffe-specific semantics, each against a hand computation written the way Caffe's own
CPU forward pass loops (IR-level: the numpy reference evaluator, no kernels)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cortado.frontends.caffe.layers_nn import caffe_pool_size

from caffe_helpers import input_layer


def layer(type_: str, params: str = "", bottoms=("data",), tops=("out",), name="L") -> str:
    b = " ".join(f'bottom: "{x}"' for x in bottoms)
    t = " ".join(f'top: "{x}"' for x in tops)
    return f'layer {{ name: "{name}" type: "{type_}" {b} {t} {params} }}\n'


# -- pooling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("size, kernel, stride, pad, expected", [
    (55, 3, 2, 0, 27),     # AlexNet pool1: (55 - 3) / 2 + 1, exact
    (112, 3, 2, 0, 56),    # GoogLeNet pool1: ceil(109 / 2) + 1 = 56 where floor gives 55
    (32, 3, 2, 0, 16),     # CIFAR-10: ceil(29 / 2) + 1
    (6, 3, 2, 1, 4),       # padded: ceil(5 / 2) + 1
    (5, 2, 2, 1, 3),       # ceil(5 / 2) + 1 = 4, but window 4 would start in the padding: 3
    (7, 7, 1, 0, 1),
])
def test_pooling_output_size_rounds_up(size, kernel, stride, pad, expected):
    assert caffe_pool_size(size, kernel, stride, pad) == expected


def caffe_pool_forward(x, method, k, s, p):
    """Caffe's PoolingLayer::Forward_cpu, loop for loop."""
    n, c, h, w = x.shape
    oh, ow = caffe_pool_size(h, k, s, p), caffe_pool_size(w, k, s, p)
    y = np.zeros((n, c, oh, ow), np.float64)
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * s - p, j * s - p
            he, we = min(hs + k, h + p), min(ws + k, w + p)
            pool_size = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            win = x[:, :, hs:he, ws:we]
            if method == "MAX":
                y[:, :, i, j] = win.max(axis=(2, 3))
            else:
                y[:, :, i, j] = win.sum(axis=(2, 3)) / pool_size
    return y


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("size, k, s, p", [(7, 3, 2, 0), (6, 3, 2, 1), (5, 2, 2, 1), (9, 3, 3, 1), (8, 2, 2, 0)])
def test_pooling_values_match_caffe(caffe_net, rand, method, size, k, s, p):
    x = rand(2, 3, size, size)
    text = input_layer("data", x.shape) + layer("Pooling", f"pooling_param {{ pool: {method} kernel_size: {k} "
                                                           f"stride: {s} pad: {p} }}")
    got = caffe_net.run(text, {"data": x})["out"]
    np.testing.assert_allclose(got, caffe_pool_forward(x, method, k, s, p), rtol=1e-5, atol=1e-6)


def test_pooling_rectangular_and_global(caffe_net, rand):
    x = rand(1, 2, 7, 5)
    text = input_layer("data", x.shape) + layer("Pooling", "pooling_param { pool: AVE kernel_h: 3 kernel_w: 2 "
                                                           "stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0 }")
    got = caffe_net.run(text, {"data": x})["out"]
    assert got.shape == (1, 2, 4, 4)
    # global pooling over the whole plane
    text = input_layer("data", x.shape) + layer("Pooling", "pooling_param { pool: MAX global_pooling: true }")
    np.testing.assert_allclose(caffe_net.run(text, {"data": x})["out"], x.max(axis=(2, 3), keepdims=True))


def test_stochastic_pooling_at_test_time_is_a_weighted_average(caffe_net, rand):
    x = np.abs(rand(1, 2, 6, 6))
    x[0, 0, :2, :2] = 0                     # an all-zero window gives 0, not NaN
    text = input_layer("data", x.shape) + layer("Pooling", "pooling_param { pool: STOCHASTIC kernel_size: 2 stride: 2 }")
    got = caffe_net.run(text, {"data": x})["out"]
    win = x.reshape(1, 2, 3, 2, 3, 2)
    expected = (win ** 2).sum(axis=(3, 5)) / (win.sum(axis=(3, 5)) + 1.1754944e-38)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert got[0, 0, 0, 0] == 0


# -- LRN --------------------------------------------------------------------------------------
def test_lrn_across_channels(caffe_net, rand):
    x = rand(2, 7, 3, 3)
    n, alpha, beta, k = 5, 0.3, 0.75, 2.0
    text = input_layer("data", x.shape) + layer("LRN", f"lrn_param {{ local_size: {n} alpha: {alpha} beta: {beta} "
                                                       f"k: {k} }}")
    got = caffe_net.run(text, {"data": x})["out"]
    expected = np.zeros_like(x, dtype=np.float64)
    for c in range(7):
        lo, hi = max(c - n // 2, 0), min(c + n // 2, 6)
        scale = k + alpha / n * (x[:, lo:hi + 1] ** 2).sum(axis=1)
        expected[:, c] = x[:, c] * scale ** -beta
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_lrn_within_channel(caffe_net, rand):
    x = rand(1, 2, 5, 4)
    n, alpha, beta = 3, 0.5, 0.6
    text = input_layer("data", x.shape) + layer("LRN", f"lrn_param {{ local_size: {n} alpha: {alpha} beta: {beta} "
                                                       "norm_region: WITHIN_CHANNEL k: 7 }")
    got = caffe_net.run(text, {"data": x})["out"]
    padded = np.pad(x.astype(np.float64) ** 2, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros_like(x, dtype=np.float64)
    for i in range(5):
        for j in range(4):
            s = padded[:, :, i:i + n, j:j + n].sum(axis=(2, 3))
            expected[:, :, i, j] = x[:, :, i, j] * (1 + alpha / n ** 2 * s) ** -beta   # k is not used here
    np.testing.assert_allclose(got, expected, rtol=1e-5)


# -- BatchNorm, Scale, Bias -----------------------------------------------------------------
@pytest.mark.parametrize("factor", [999.5, 1.0, 0.0])
def test_batchnorm_divides_stored_statistics_by_the_scale_factor(caffe_net, rand, factor):
    x = rand(2, 3, 4, 4)
    mean, var = rand(3) * 100, np.abs(rand(3)) * 100 + 1
    text = input_layer("data", x.shape) + layer("BatchNorm", "batch_norm_param { eps: 0.001 }")
    got = caffe_net.run(text, {"data": x}, {"L": [mean, var, np.array([factor], np.float32)]})["out"]
    f = 0.0 if factor == 0 else 1.0 / factor
    m, v = (mean * f).reshape(1, 3, 1, 1), (var * f).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(got, (x - m) / np.sqrt(v + 0.001), rtol=1e-4, atol=1e-5)


def test_batchnorm_with_batch_statistics_is_refused(caffe_net):
    text = input_layer("data", (1, 2, 2, 2)) + layer("BatchNorm", "batch_norm_param { use_global_stats: false }")
    proto, _ = caffe_net.write(text)
    from cortado.errors import UnsupportedOpError
    from cortado.frontends.caffe import import_caffe

    with pytest.raises(UnsupportedOpError, match="use_global_stats: false"):
        import_caffe(proto, random_weights=True, quiet=True)


@pytest.mark.parametrize("axis, num_axes, pshape", [(1, 1, (3,)), (1, 2, (3, 4)), (-2, -1, (4, 5)), (0, 0, ()),
                                                     (2, 1, (4,))])
def test_scale_with_axis_num_axes_and_bias(caffe_net, rand, axis, num_axes, pshape):
    x = rand(2, 3, 4, 5)
    gamma, beta = rand(*pshape), rand(*pshape)
    text = input_layer("data", x.shape) + layer("Scale", f"scale_param {{ axis: {axis} num_axes: {num_axes} "
                                                         "bias_term: true }")
    got = caffe_net.run(text, {"data": x}, {"L": [gamma, beta]})["out"]
    a = axis % 4
    shape = pshape + (1,) * (4 - a - len(pshape))
    np.testing.assert_allclose(got, x * gamma.reshape(shape) + beta.reshape(shape), rtol=1e-5)


def test_scale_and_bias_from_a_second_bottom(caffe_net, rand):
    x, s = rand(2, 3, 4), rand(3, 4)
    text = (input_layer("data", x.shape) + input_layer("s", s.shape)
            + layer("Scale", "scale_param { axis: 1 }", bottoms=("data", "s"), tops=("m",), name="sc")
            + layer("Bias", "bias_param { axis: 1 }", bottoms=("m", "s"), tops=("out",), name="bi"))
    got = caffe_net.run(text, {"data": x, "s": s})["out"]
    np.testing.assert_allclose(got, x * s + s, rtol=1e-6)


def test_bias_layer_with_learned_blob(caffe_net, rand):
    x, b = rand(2, 3, 4), rand(3)
    text = input_layer("data", x.shape) + layer("Bias", "")
    np.testing.assert_allclose(caffe_net.run(text, {"data": x}, {"L": [b]})["out"], x + b.reshape(3, 1))


# -- Eltwise ----------------------------------------------------------------------------------
@pytest.mark.parametrize("params, fn", [
    ("eltwise_param { operation: SUM coeff: 0.5 coeff: -1 coeff: 2 }", lambda a, b, c: 0.5 * a - b + 2 * c),
    ("eltwise_param { coeff: 1 coeff: 1 coeff: -3 }", lambda a, b, c: a + b - 3 * c),
    ("", lambda a, b, c: a + b + c),
    ("eltwise_param { operation: PROD }", lambda a, b, c: a * b * c),
    ("eltwise_param { operation: MAX }", lambda a, b, c: np.maximum(np.maximum(a, b), c)),
])
def test_eltwise(caffe_net, rand, params, fn):
    xs = [rand(2, 3, 4) for _ in range(3)]
    text = "".join(input_layer(n, (2, 3, 4)) for n in "abc") + layer("Eltwise", params, bottoms="abc")
    got = caffe_net.run(text, dict(zip("abc", xs)))["out"]
    np.testing.assert_allclose(got, fn(*xs), rtol=1e-5)


def test_eltwise_coefficient_count_must_match(caffe_net):
    from cortado.errors import ModelFormatError
    from cortado.frontends.caffe import import_caffe

    text = "".join(input_layer(n, (2,)) for n in "ab") + layer("Eltwise", "eltwise_param { coeff: 1 }", bottoms="ab")
    proto, _ = caffe_net.write(text)
    with pytest.raises(ModelFormatError, match="1 coefficients for 2 bottoms"):
        import_caffe(proto, quiet=True)


# -- InnerProduct, Convolution, Deconvolution -----------------------------------------------
@pytest.mark.parametrize("axis, transpose", [(1, False), (2, False), (-1, False), (2, True), (0, False)])
def test_inner_product_axis_and_transpose(caffe_net, rand, axis, transpose):
    x = rand(2, 3, 4, 5)
    a = axis % 4
    k = int(np.prod(x.shape[a:]))
    w = rand(k, 6) if transpose else rand(6, k)
    b = rand(6)
    text = input_layer("data", x.shape) + layer("InnerProduct", f"inner_product_param {{ num_output: 6 axis: {axis} "
                                                                f"transpose: {str(transpose).lower()} }}")
    got = caffe_net.run(text, {"data": x}, {"L": [w, b]})["out"]
    flat = x.reshape(-1, k)
    expected = (flat @ (w if transpose else w.T) + b).reshape(x.shape[:a] + (6,))
    assert got.shape == x.shape[:a] + (6,)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def direct_conv(x, w, b, stride, pad, dilation, group):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - (dilation[0] * (kh - 1) + 1)) // stride[0] + 1
    ow = (wd + 2 * pad[1] - (dilation[1] * (kw - 1) + 1)) // stride[1] + 1
    y = np.zeros((n, m, oh, ow))
    for o in range(m):
        g = o // (m // group)
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, i * stride[0]:i * stride[0] + dilation[0] * (kh - 1) + 1:dilation[0],
                           j * stride[1]:j * stride[1] + dilation[1] * (kw - 1) + 1:dilation[1]]
                y[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3)) + (b[o] if b is not None else 0)
    return y


def test_convolution_with_h_w_params_groups_and_dilation(caffe_net, rand):
    x = rand(1, 4, 9, 8)
    w, b = rand(6, 2, 3, 2), rand(6)
    params = ("convolution_param { num_output: 6 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 2 pad_w: 1 "
              "dilation: 2 group: 2 }")
    got = caffe_net.run(input_layer("data", x.shape) + layer("Convolution", params), {"data": x}, {"L": [w, b]})["out"]
    np.testing.assert_allclose(got, direct_conv(x, w, b, (2, 1), (2, 1), (2, 2), 2), rtol=1e-4, atol=1e-5)


def test_convolution_without_bias_and_with_two_bottoms(caffe_net, rand):
    x1, x2 = rand(1, 2, 5, 5), rand(1, 2, 5, 5)
    w = rand(3, 2, 3, 3)
    text = input_layer("a", x1.shape) + input_layer("b", x2.shape) + layer(
        "Convolution", "convolution_param { num_output: 3 kernel_size: 3 bias_term: false }", bottoms="ab",
        tops=("ya", "yb"))
    out = caffe_net.run(text, {"a": x1, "b": x2}, {"L": [w]})
    for key, x in (("ya", x1), ("yb", x2)):
        np.testing.assert_allclose(out[key], direct_conv(x, w, None, (1, 1), (0, 0), (1, 1), 1), rtol=1e-4, atol=1e-5)


def test_deconvolution(caffe_net, rand):
    x = rand(1, 2, 3, 4)
    w, b = rand(2, 3, 3, 3), rand(3)
    text = input_layer("data", x.shape) + layer("Deconvolution", "convolution_param { num_output: 3 kernel_size: 3 "
                                                                 "stride: 2 pad: 1 }")
    got = caffe_net.run(text, {"data": x}, {"L": [w, b]})["out"]
    # Caffe's deconvolution: every input pixel scatters w * x into the (stride-spaced) output
    full = np.zeros((1, 3, (3 - 1) * 2 + 3, (4 - 1) * 2 + 3))
    for i in range(3):
        for j in range(4):
            full[0, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] += np.einsum("c,cmkl->mkl", x[0, :, i, j], w)
    expected = full[:, :, 1:-1, 1:-1] + b.reshape(1, 3, 1, 1)
    assert got.shape == (1, 3, 5, 7)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


# -- activations and elementwise math -------------------------------------------------------
@pytest.mark.parametrize("type_, params, fn", [
    ("ReLU", "", lambda x: np.maximum(x, 0)),
    ("ReLU", "relu_param { negative_slope: 0.1 }", lambda x: np.where(x > 0, x, 0.1 * x)),
    ("ELU", "elu_param { alpha: 0.5 }", lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    ("Sigmoid", "", lambda x: 1 / (1 + np.exp(-x))),
    ("TanH", "", np.tanh),
    ("AbsVal", "", np.abs),
    ("BNLL", "", lambda x: np.log1p(np.exp(x))),
    ("Threshold", "threshold_param { threshold: 0.2 }", lambda x: (x > 0.2).astype(np.float32)),
    ("Clip", "clip_param { min: -0.5 max: 0.25 }", lambda x: np.clip(x, -0.5, 0.25)),
    ("Swish", "swish_param { beta: 2 }", lambda x: x / (1 + np.exp(-2 * x))),
    ("Power", "power_param { power: 2 scale: 0.5 shift: 3 }", lambda x: (3 + 0.5 * x) ** 2),
    ("Power", "power_param { power: 0.5 scale: 0 shift: 4 }", lambda x: np.full_like(x, 2.0)),
    ("Power", "power_param { power: 0 scale: 3 }", lambda x: np.ones_like(x)),
    ("Power", "", lambda x: x),
    ("Exp", "", np.exp),
    ("Exp", "exp_param { base: 2 scale: 0.5 shift: 1 }", lambda x: 2.0 ** (1 + 0.5 * x)),
    ("Log", "log_param { scale: 2 shift: 5 }", lambda x: np.log(5 + 2 * x)),
    ("Log", "log_param { base: 10 shift: 4 }", lambda x: np.log10(4 + x)),
    ("Dropout", "dropout_param { dropout_ratio: 0.7 }", lambda x: x),
])
def test_elementwise_layers(caffe_net, rand, type_, params, fn):
    x = rand(2, 3, 4)
    got = caffe_net.run(input_layer("data", x.shape) + layer(type_, params), {"data": x})["out"]
    np.testing.assert_allclose(got, fn(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shared", [False, True])
def test_prelu(caffe_net, rand, shared):
    x = rand(2, 3, 4, 4)
    slope = rand(1 if shared else 3)
    text = input_layer("data", x.shape) + layer("PReLU", f"prelu_param {{ channel_shared: {str(shared).lower()} }}")
    got = caffe_net.run(text, {"data": x}, {"L": [slope]})["out"]
    s = slope.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(got, np.where(x > 0, x, s * x), rtol=1e-6)


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_softmax_axis(caffe_net, rand, axis):
    x = rand(2, 3, 4)
    got = caffe_net.run(input_layer("data", x.shape) + layer("Softmax", f"softmax_param {{ axis: {axis} }}"),
                        {"data": x})["out"]
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(axis=axis, keepdims=True), rtol=1e-5)


# -- shapes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("in_shape, params, shape", [
    ((2, 3, 4, 5), "reshape_param { shape { dim: 0 dim: -1 } }", (2, 60)),
    ((2, 3, 4, 5), "reshape_param { shape { dim: 2 dim: 4 dim: 15 } }", (2, 4, 15)),
    ((2, 4, 4, 5), "reshape_param { shape { dim: 2 dim: 2 } axis: 1 num_axes: 1 }", (2, 2, 2, 4, 5)),
    ((2, 3, 4, 5), "reshape_param { shape { dim: 1 } axis: 1 num_axes: 0 }", (2, 1, 3, 4, 5)),
    ((2, 3, 4, 5), "reshape_param { shape { dim: -1 } axis: -3 }", (2, 3, 20)),
    ((2, 3, 4, 5), "reshape_param { shape { dim: 0 dim: 0 dim: 0 dim: 0 } }", (2, 3, 4, 5)),
])
def test_reshape_copy_infer_axis_num_axes(caffe_net, rand, in_shape, params, shape):
    x = rand(*in_shape)
    got = caffe_net.run(input_layer("data", x.shape) + layer("Reshape", params), {"data": x})["out"]
    assert got.shape == shape
    np.testing.assert_array_equal(got.reshape(-1), x.reshape(-1))


@pytest.mark.parametrize("params, shape", [("", (2, 60)), ("flatten_param { axis: 2 }", (2, 3, 20)),
                                           ("flatten_param { axis: 1 end_axis: 2 }", (2, 12, 5)),
                                           ("flatten_param { axis: -3 end_axis: -2 }", (2, 12, 5))])
def test_flatten(caffe_net, rand, params, shape):
    x = rand(2, 3, 4, 5)
    got = caffe_net.run(input_layer("data", x.shape) + layer("Flatten", params), {"data": x})["out"]
    assert got.shape == shape and np.array_equal(got.reshape(-1), x.reshape(-1))


@pytest.mark.parametrize("order, perm", [("order: 0 order: 2 order: 3 order: 1", (0, 2, 3, 1)),
                                         ("order: 1 order: 0", (1, 0, 2, 3)), ("", (0, 1, 2, 3))])
def test_permute(caffe_net, rand, order, perm):
    x = rand(2, 3, 4, 5)
    got = caffe_net.run(input_layer("data", x.shape) + layer("Permute", f"permute_param {{ {order} }}"),
                        {"data": x})["out"]
    np.testing.assert_array_equal(got, x.transpose(perm))


def test_concat_axis_and_legacy_concat_dim(caffe_net, rand):
    a, b = rand(2, 3, 4), rand(2, 2, 4)
    text = input_layer("a", a.shape) + input_layer("b", b.shape)
    got = caffe_net.run(text + layer("Concat", "", bottoms="ab"), {"a": a, "b": b})["out"]
    np.testing.assert_array_equal(got, np.concatenate([a, b], axis=1))
    a2 = rand(2, 3, 1)
    text = input_layer("a", a.shape) + input_layer("b", a2.shape)
    got = caffe_net.run(text + layer("Concat", "concat_param { axis: -1 }", bottoms="ab"), {"a": a, "b": a2})["out"]
    np.testing.assert_array_equal(got, np.concatenate([a, a2], axis=-1))
    text = input_layer("a", a.shape) + input_layer("b", a.shape)
    got = caffe_net.run(text + layer("Concat", "concat_param { concat_dim: 0 }", bottoms="ab"), {"a": a, "b": a})["out"]
    np.testing.assert_array_equal(got, np.concatenate([a, a], axis=0))


def test_exp_log_reject_bad_bases(caffe_net):
    from cortado.errors import ModelFormatError
    from cortado.frontends.caffe import import_caffe

    for type_, params in (("Exp", "exp_param { base: -2 }"), ("Log", "log_param { base: 1 }")):
        proto, _ = caffe_net.write(input_layer("data", (2,)) + layer(type_, params))
        with pytest.raises(ModelFormatError, match="base must be positive"):
            import_caffe(proto, quiet=True)


def test_math_constants(caffe_net):
    """Power with scale * power == 0 fills the constant Caffe fills (even shift ** power)."""
    x = np.zeros((1, 2), np.float32)
    got = caffe_net.run(input_layer("data", x.shape) + layer("Power", "power_param { power: 3 scale: 0 shift: 2 }"),
                        {"data": x})["out"]
    assert got.tolist() == [[8.0, 8.0]] and math.isfinite(got.sum())


# -- layers that need IR ops added alongside this frontend (Slice, ArgMax) ----------------------
def needs_ops(*ops):
    from cortado.ops import get_op

    missing = []
    for op in ops:
        try:
            get_op(op)
        except KeyError:
            missing.append(op)
    return pytest.mark.skipif(bool(missing), reason=f"IR op(s) {', '.join(map(str, missing))} not registered yet")


@needs_ops("Slice")
@pytest.mark.parametrize("params, axis, bounds", [
    ("slice_param { axis: 1 slice_point: 1 slice_point: 4 }", 1, [0, 1, 4, 6]),
    ("slice_param { axis: -1 }", 3, [0, 2, 4, 6]),
    ("slice_param { slice_dim: 2 slice_point: 5 slice_point: 5 }", 2, None),
])
def test_slice(caffe_net, rand, params, axis, bounds):
    x = rand(2, 6, 6, 6)
    text = input_layer("data", x.shape) + layer("Slice", params, tops=("a", "b", "c"))
    if bounds is None:
        from cortado.errors import ModelFormatError

        with pytest.raises(ModelFormatError, match="must increase strictly"):
            caffe_net.graph(text)
        return
    out = caffe_net.run(text, {"data": x})
    for name, lo, hi in zip("abc", bounds, bounds[1:]):
        np.testing.assert_array_equal(out[name], np.take(x, range(lo, hi), axis=axis))


@needs_ops("Slice")
@pytest.mark.parametrize("params, ref_shape, index", [
    ("", (1, 5, 3, 4), np.s_[:, :, 0:3, 0:4]),
    ("crop_param { axis: 2 offset: 1 }", (1, 5, 3, 4), np.s_[:, :, 1:4, 1:5]),
    ("crop_param { axis: 1 offset: 2 offset: 0 offset: 3 }", (1, 2, 3, 4), np.s_[:, 2:4, 0:3, 3:7]),
    ("crop_param { axis: -1 offset: 2 }", (1, 5, 6, 4), np.s_[..., 2:6]),
])
def test_crop(caffe_net, rand, params, ref_shape, index):
    x = rand(1, 5, 6, 7)
    text = input_layer("data", x.shape) + input_layer("ref", ref_shape) + layer("Crop", params, bottoms=("data", "ref"))
    got = caffe_net.run(text, {"data": x, "ref": np.zeros(ref_shape, np.float32)})["out"]
    np.testing.assert_array_equal(got, x[index])


@needs_ops("ArgMax", "ReduceMax")
@pytest.mark.parametrize("params", ["", "argmax_param { out_max_val: true }", "argmax_param { axis: 1 }",
                                    "argmax_param { axis: -1 out_max_val: true }"])
def test_argmax(caffe_net, rand, params):
    x = rand(2, 3, 4)
    x[0, 1, 2] = x[0, 2, 3] = x.max() + 1          # a tie: Caffe reports the higher index
    got = caffe_net.run(input_layer("data", x.shape) + layer("ArgMax", params), {"data": x})["out"]
    if "axis" not in params:
        flat = x.reshape(2, -1)
        idx = flat.shape[1] - 1 - flat[:, ::-1].argmax(axis=1)
        expected = idx.reshape(2, 1, 1).astype(np.float32)
        if "out_max_val" in params:
            expected = np.stack([idx, flat.max(axis=1)], axis=1).reshape(2, 2, 1)
    elif "out_max_val" in params:
        expected = x.max(axis=-1, keepdims=True)
    else:
        expected = (2 - x[:, ::-1].argmax(axis=1))[:, None].astype(np.float32)
    np.testing.assert_array_equal(got, expected)


@needs_ops("TopK")
@pytest.mark.parametrize("params", ["argmax_param { top_k: 3 }", "argmax_param { top_k: 2 out_max_val: true }",
                                    "argmax_param { top_k: 2 axis: 1 }", "argmax_param { top_k: 3 axis: 2 out_max_val: true }"])
def test_argmax_top_k(caffe_net, params):
    x = np.random.default_rng(5).permutation(24).astype(np.float32).reshape(2, 3, 4)   # no ties
    got = caffe_net.run(input_layer("data", x.shape) + layer("ArgMax", params), {"data": x})["out"]
    k = int(params.split("top_k: ")[1].split()[0])
    if "axis" not in params:
        flat = x.reshape(2, -1)
        order = np.argsort(-flat, axis=1)[:, :k]
        expected = order[:, None, :].astype(np.float32)
        if "out_max_val" in params:
            expected = np.stack([order, np.take_along_axis(flat, order, axis=1)], axis=1)
    else:
        axis = int(params.split("axis: ")[1].split()[0])
        order = np.take(np.argsort(-x, axis=axis), range(k), axis=axis)
        expected = np.take_along_axis(x, order, axis=axis) if "out_max_val" in params else order.astype(np.float32)
    np.testing.assert_array_equal(got, expected)


@needs_ops("Tile")
def test_tile(caffe_net, rand):
    x = rand(2, 3, 4)
    got = caffe_net.run(input_layer("data", x.shape) + layer("Tile", "tile_param { axis: 1 tiles: 3 }"),
                        {"data": x})["out"]
    np.testing.assert_array_equal(got, np.tile(x, (1, 3, 1)))


def test_parameter_layer_outputs_its_blob(caffe_net, rand):
    p = rand(2, 3)
    text = input_layer("data", (2, 3)) + layer("Parameter", "parameter_param { shape { dim: 2 dim: 3 } }", bottoms=(),
                                               tops=("p",), name="P") \
        + layer("Eltwise", "eltwise_param { operation: PROD }", bottoms=("data", "p"))
    x = rand(2, 3)
    np.testing.assert_allclose(caffe_net.run(text, {"data": x}, {"P": [p]})["out"], x * p, rtol=1e-6)
