"""Idiom raising: softmax, log-softmax and layer norm spelled in numpy become their fused ops,
only when the rewrite is exact and saves work, and never change what the graph computes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cortado
from cortado import ops
from cortado.ir import Graph, TensorType
from cortado.jit.raising import eliminate_common_subexpressions
from jit_helpers import assert_same, skip_if_op_missing


def traced_ops(fn, *args, **kw):
    with skip_if_op_missing():
        g = cortado.jit(fn, **kw).trace(*args)
    ops.verify(g)
    return g, [n.op.value for n in g.nodes]


def evaluate(g, *args):
    outs = ops.evaluate(g, {v.name: a for v, a in zip(g.inputs, args)})
    res = [outs[n] for n in g.output_names]
    return res[0] if len(res) == 1 else tuple(res)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


X = rand(4, 10)


SOFTMAXES = {
    "keepdims": lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(
        -1, keepdims=True),
    "newaxis": lambda x: (lambda e: e / e.sum(axis=1)[:, None])(np.exp(x - np.max(x, axis=1)[:, None])),
    "no_max": lambda x: np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True),
    "axis0": lambda x: (lambda e: e / e.sum(0, keepdims=True))(np.exp(x - x.max(0, keepdims=True))),
}


@pytest.mark.parametrize("name", SOFTMAXES)
def test_softmax_spellings(name):
    g, names = traced_ops(SOFTMAXES[name], X)
    assert names == ["Softmax"]
    assert_same(evaluate(g, X), SOFTMAXES[name](X), (X,))


def test_softmax_of_a_vector_reduced_to_a_scalar():
    v = rand(9)
    fn = lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum()   # noqa: E731
    g, names = traced_ops(fn, v)
    assert names == ["Softmax"]
    assert_same(evaluate(g, v), fn(v), (v,))


LOG_SOFTMAXES = {
    "shifted": lambda x: (x - x.max(-1, keepdims=True)) - np.log(
        np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)),
    "logsumexp": lambda x: x - (x.max(-1, keepdims=True) + np.log(
        np.sum(np.exp(x - x.max(-1, keepdims=True)), axis=-1, keepdims=True))),
}


@pytest.mark.parametrize("name", LOG_SOFTMAXES)
def test_log_softmax_spellings(name):
    g, names = traced_ops(LOG_SOFTMAXES[name], X)
    assert names == ["LogSoftmax"]
    assert_same(evaluate(g, X), LOG_SOFTMAXES[name](X), (X,))


def ln_pow(x, g, b):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * g + b


def ln_var_recip(x, g, b):
    return b + g * ((x - x.mean(-1, keepdims=True)) * np.reciprocal(np.sqrt(x.var(-1, keepdims=True) + 1e-6)))


def ln_two_axes(x, g, b):
    mu = x.mean(axis=(-2, -1), keepdims=True)
    c = x - mu
    return c * (1.0 / np.sqrt(np.mean(c * c, axis=(-2, -1), keepdims=True) + 1e-5))


@pytest.mark.parametrize("fn", [ln_pow, ln_var_recip])
def test_layer_norm_spellings(fn):
    args = (rand(3, 5, 8), rand(8, seed=1), rand(8, seed=2))
    g, names = traced_ops(fn, *args)
    assert names == ["LayerNormalization"]
    assert_same(evaluate(g, *args), fn(*args), args)


def test_layer_norm_over_trailing_axes_without_affine():
    args = (rand(3, 5, 8), None, None)
    g, names = traced_ops(ln_two_axes, *args)
    assert names == ["LayerNormalization"]
    node = g.nodes[0]
    assert node.attrs.axis == 1 and node.inputs[1].is_constant and node.inputs[1].shape == (5, 8)
    assert_same(evaluate(g, args[0]), ln_two_axes(*args), args[:1])


def test_layer_norm_weights_with_leading_unit_dims():
    args = (rand(6, 8), rand(1, 8, seed=1), rand(1, 1, 8, seed=2))

    def fn(x, g, b):
        return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * g + b
    g, names = traced_ops(fn, *args)
    assert names.count("LayerNormalization") == 1 and "ReduceMean" not in names
    assert_same(evaluate(g, *args), fn(*args), args)


def test_nothing_is_raised_when_an_intermediate_escapes():
    def fn(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True), e          # e is needed anyway
    g, names = traced_ops(fn, X)
    assert "Softmax" not in names
    assert_same(evaluate(g, X), fn(X), (X,))


def test_nothing_is_raised_for_other_algebra():
    def not_softmax(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(0, keepdims=True)              # max and sum over different axes

    def not_layer_norm(x):
        mu = x.mean(0, keepdims=True)                   # statistics over a leading axis
        return (x - mu) / np.sqrt(((x - mu) ** 2).mean(0, keepdims=True) + 1e-5)
    y = rand(5, 4, 3)
    for fn, x, op in ((not_softmax, X, "Softmax"), (not_layer_norm, y, "LayerNormalization")):
        g, names = traced_ops(fn, x)
        assert op not in names
        assert_same(evaluate(g, x), fn(x), (x,))


def test_common_subexpressions_merge():
    g = Graph()
    x = g.add_input("x", TensorType((3,), "float32"))
    a = ops.apply(g, "Exp", [x]).output
    b = ops.apply(g, "Exp", [x]).output
    g.add_output(ops.apply(g, "Add", [a, b]).output, "y")
    assert eliminate_common_subexpressions(g)
    assert [n.op.value for n in g.nodes] == ["Exp", "Add"]
    assert not eliminate_common_subexpressions(g)


@settings(max_examples=40)
@given(rows=st.integers(1, 4), cols=st.integers(1, 9), axis=st.sampled_from([0, 1, -1]),
       keep=st.booleans(), shift=st.booleans(), seed=st.integers(0, 2**16))
def test_raised_softmax_computes_what_numpy_computes(rows, cols, axis, keep, shift, seed):
    x = rand(rows, cols, seed=seed) * 4

    def fn(x):
        if shift:
            x = x - (x.max(axis, keepdims=True) if keep else np.expand_dims(x.max(axis), axis))
        e = np.exp(x)
        s = e.sum(axis, keepdims=True) if keep else np.expand_dims(e.sum(axis), axis)
        return e / s
    with skip_if_op_missing():
        g = cortado.jit(fn).trace(x)
    assert [n.op.value for n in g.nodes] == ["Softmax"]
    assert_same(evaluate(g, x), fn(x), (x,))


@settings(max_examples=40)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), start=st.integers(0, 2),
       eps=st.sampled_from([1e-5, 1e-3, 0.1]), affine=st.sampled_from(["none", "scale", "both"]),
       seed=st.integers(0, 2**16))
def test_raised_layer_norm_computes_what_numpy_computes(shape, start, eps, affine, seed):
    start = min(start, len(shape) - 1)
    axes = tuple(range(start, len(shape)))
    x = rand(*shape, seed=seed) * 3 + 1
    gamma, beta = rand(*shape[start:], seed=seed + 1), rand(*shape[start:], seed=seed + 2)

    def fn(x, gamma, beta):
        mu = x.mean(axis=axes, keepdims=True)
        y = (x - mu) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
        if affine != "none":
            y = y * gamma
        if affine == "both":
            y = y + beta
        return y
    with skip_if_op_missing():
        g = cortado.jit(fn).trace(x, gamma, beta)
    assert [n.op.value for n in g.nodes] == ["LayerNormalization"]
    assert_same(evaluate(g, *[a for a in (x, gamma, beta)][:len(g.inputs)]), fn(x, gamma, beta), (x,))
