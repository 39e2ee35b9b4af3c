"""Each kernel kind of the skeleton against the numpy reference evaluator, on odd shapes, on
each host target (the Triton kernels interpreted, and the cpu target's numpy kernels)."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado import ops
from cortado.ir import Graph, Sym, TensorType
from cortado.testing.reference import HOST_TARGETS, assert_close


def run_both(g: Graph, feeds: dict, opt_level: int = 0):
    """Compile and run on every host target against the reference; the first target's model."""
    ref = ops.evaluate(g, feeds)
    models = []
    for target in HOST_TARGETS:
        m = cortado.compile(g, target=target, opt_level=opt_level)
        got = m.run(feeds)
        for name in g.output_names:
            assert_close(got[name], ref[name], what=f"{name} ({target})")
        models.append(m)
    return models[0]


def unary_graph(shape, op, const_inputs=(), **attrs):
    g = Graph()
    x = g.add_input("x", TensorType(shape, "float32"))
    ins = [x] + [g.add_constant(c) for c in const_inputs]
    g.add_output(ops.apply(g, op, ins, **attrs).output, "y")
    return g


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape,wshape,attrs", [
    ((2, 3, 9, 7), (5, 3, 3, 3), dict(strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), group=1)),
    ((1, 4, 11, 10), (6, 2, 3, 2), dict(strides=(2, 3), pads=(0, 1, 2, 0), dilations=(1, 2), group=2)),
    ((1, 6, 8, 8), (6, 1, 3, 3), dict(strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), group=6)),
    ((1, 4, 7, 7), (8, 1, 5, 5), dict(strides=(2, 2), pads=(2, 2, 2, 2), dilations=(1, 1), group=4)),
    ((2, 3, 13), (4, 3, 3), dict(strides=(2,), pads=(1, 0), dilations=(2,), group=1)),
    ((1, 2, 5, 6, 4), (3, 2, 2, 3, 1), dict(strides=(1, 2, 1), pads=(0, 1, 0, 1, 0, 0), dilations=(1, 1, 1), group=1)),
])
def test_conv(rng, shape, wshape, attrs):
    g = unary_graph(shape, "Conv", [rand(rng, *wshape), rand(rng, wshape[0])], kernel_shape=wshape[2:], **attrs)
    run_both(g, {"x": rand(rng, *shape)})


@pytest.mark.parametrize("op,attrs", [
    ("MaxPool", dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), dilations=(1, 1), ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=(2, 3), strides=(2, 1), pads=(0, 0, 1, 1), dilations=(2, 1), ceil_mode=0)),
    ("AveragePool", dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), dilations=(1, 1), ceil_mode=1,
                         count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), dilations=(1, 1), ceil_mode=1,
                         count_include_pad=0)),
    ("AveragePool", dict(kernel_shape=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0), dilations=(1, 1))),
])
def test_pooling(rng, op, attrs):
    g = unary_graph((2, 3, 10, 9), op, **attrs)
    run_both(g, {"x": rand(rng, 2, 3, 10, 9)})


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pool(rng, op):
    run_both(unary_graph((2, 5, 7, 3), op), {"x": rand(rng, 2, 5, 7, 3)})


def test_lrn(rng):
    run_both(unary_graph((1, 7, 5, 4), "LRN", size=3, alpha=1e-2, beta=0.75, bias=2.0), {"x": rand(rng, 1, 7, 5, 4)})


@pytest.mark.parametrize("ta,tb,alpha,beta,cshape", [(0, 0, 1.0, 1.0, (13,)), (1, 0, 0.5, 2.0, (1, 13)),
                                                    (0, 1, 1.0, 1.0, (7, 13)), (1, 1, 1.5, 0.0, None)])
def test_gemm(rng, ta, tb, alpha, beta, cshape):
    a = (33, 7) if ta else (7, 33)
    b = (13, 33) if tb else (33, 13)
    consts = [rand(rng, *b)] + ([rand(rng, *cshape)] if cshape else [])
    g = unary_graph(a, "Gemm", consts, transA=ta, transB=tb, alpha=alpha, beta=beta)
    run_both(g, {"x": rand(rng, *a)})


@pytest.mark.parametrize("ashape,bshape", [((5, 7), (7, 3)), ((2, 1, 5, 7), (3, 7, 4)), ((7,), (2, 7, 3)),
                                           ((2, 5, 7), (7,)), ((1, 300), (300, 40))])
def test_matmul(rng, ashape, bshape):
    g = Graph()
    a = g.add_input("a", TensorType(ashape, "float32"))
    b = g.add_input("b", TensorType(bshape, "float32"))
    g.add_output(ops.apply(g, "MatMul", [a, b]).output, "y")
    run_both(g, {"a": rand(rng, *ashape), "b": rand(rng, *bshape)})


@pytest.mark.parametrize("op,axis", [("Softmax", -1), ("Softmax", 1), ("LogSoftmax", 0), ("Softmax", 2)])
def test_softmax(rng, op, axis):
    run_both(unary_graph((3, 5, 7), op, axis=axis), {"x": rand(rng, 3, 5, 7) * 4})


def test_softmax_long_rows_loop_over_columns(rng):
    run_both(unary_graph((2, 10000), "Softmax", axis=1), {"x": rand(rng, 2, 10000)})


def test_views_and_concat(rng):
    g = Graph()
    x = g.add_input("x", TensorType((2, 3, 4), "float32"))
    y = g.add_input("y", TensorType((2, 5, 4), "float32"))
    t = ops.apply(g, "Transpose", [x], perm=(2, 0, 1)).output            # 4, 2, 3
    r = ops.apply(g, "Reshape", [t], shape=(8, 3)).output
    c = ops.apply(g, "Concat", [x, y, x], axis=1).output                  # 2, 11, 4
    g.add_output(r, "r")
    g.add_output(c, "c")
    g.add_output(ops.apply(g, "Relu", [c]).output, "relu_c")
    run_both(g, {"x": rand(rng, 2, 3, 4), "y": rand(rng, 2, 5, 4)})


def test_broadcast_elementwise_and_batchnorm(rng):
    g = Graph()
    x = g.add_input("x", TensorType((2, 3, 4, 5), "float32"))
    b = g.add_constant(rand(rng, 3, 1, 5))
    s = ops.apply(g, "Mul", [x, b]).output
    params = [g.add_constant(rand(rng, 3)) for _ in range(3)] + [g.add_constant(np.abs(rand(rng, 3)) + 0.5)]
    bn = ops.apply(g, "BatchNormalization", [s] + params, epsilon=1e-3).output
    g.add_output(ops.apply(g, "Sigmoid", [bn]).output, "y")
    run_both(g, {"x": rand(rng, 2, 3, 4, 5)})


def test_symbolic_batch_one_compile_serves_every_batch(rng):
    g = Graph()
    x = g.add_input("x", TensorType((Sym("N"), 3, 6, 6), "float32"))
    w = g.add_constant(rand(rng, 4, 3, 3, 3))
    c = ops.apply(g, "Conv", [x, w], kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1),
                  group=1).output
    p = ops.apply(g, "GlobalAveragePool", [c]).output
    f = ops.apply(g, "Reshape", [p], shape=(Sym("N"), 4)).output
    g.add_output(ops.apply(g, "Softmax", [f], axis=1).output, "y")
    for target in HOST_TARGETS:
        m = cortado.compile(g, target=target, opt_level=0)
        for n in (1, 3, 5):
            feeds = {"x": rand(rng, n, 3, 6, 6)}
            assert_close(m.run(feeds)["y"], ops.evaluate(g, feeds)["y"], what=target)


@pytest.mark.parametrize("hw", [1, 2])
def test_windows_over_tiny_spatial_sizes(rng, hw):
    """Window taps whose coordinates are loop counters only (1x1 inputs) still guard correctly."""
    g = Graph()
    x = g.add_input("x", TensorType((1, 4, hw, hw), "float32"))
    w = g.add_constant(rand(rng, 4, 1, 3, 3))
    y = ops.apply(g, "Conv", [x, w], kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1),
                  group=4).output
    g.add_output(ops.apply(g, "MaxPool", [y], kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1),
                           dilations=(1, 1)).output, "y")
    run_both(g, {"x": rand(rng, 1, 4, hw, hw)})


@pytest.mark.parametrize("base", [2.5, -2.0])
def test_pow_of_a_constant_base(rng, base):
    """b ** x with a literal base and a tensor exponent (a 0-d base tile against the
    exponent's tile), integral exponents included: a negative base is defined on those."""
    g = Graph()
    x = g.add_input("x", TensorType((3, 4), "float32"))
    b = g.add_constant(np.array(base, np.float32))
    y = ops.apply(g, "Pow", [b, x]).output
    g.add_output(ops.apply(g, "Relu", [y]).output, "y")
    run_both(g, {"x": np.round(rand(rng, 3, 4) * 2)})
