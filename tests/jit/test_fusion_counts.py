"""Kernel counts of compiled numpy functions: the idioms become fused kernels.

Counts come from ``compiled.stats["kernels"]`` (launches of the plan). When a count is not met
the assertion message carries ``stats["why_not_fused"]``, which names the refused merge.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import cortado
from jit_helpers import assert_same, skip_if_op_missing


def lower(fn, *args, **kw):
    f = cortado.jit(fn, target="interpreter", **kw)
    with skip_if_op_missing():
        low = f.lower(*args)
    got = f(*args)
    assert_same(got, fn(*args), args, fn.__name__)
    return low


def explain(low) -> str:
    ops = [n.op.value for n in low.compiled.graph.nodes]
    return f"{low.stats['kernels']} kernels for {ops}; why not fused: {low.stats['why_not_fused']}"


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_no_keepdims(x):
    e = np.exp(x - np.max(x, axis=1)[:, None])
    return e / np.sum(e, axis=1)[:, None]


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def layer_norm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


def layer_norm_var(x, g, b):
    return (x - x.mean(-1, keepdims=True)) * (1.0 / np.sqrt(x.var(-1, keepdims=True) + 1e-6)) * g + b


def rms_norm(x, g):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-6) * g


def mlp(x, w1, b1, w2, b2, w3, b3):
    h = np.maximum(x @ w1 + b1, 0.0)
    h = np.tanh(h @ w2 + b2)
    return h @ w3 + b3


@pytest.mark.parametrize("fn", [softmax, softmax_no_keepdims, log_softmax])
def test_softmax_family_is_one_kernel(fn):
    low = lower(fn, rand(6, 40))
    assert low.stats["kernels"] == 1, explain(low)


def test_scaled_softmax_takes_the_scale_as_a_prologue():
    low = lower(lambda x: softmax(x * 0.125 + 1.0), rand(6, 40))
    assert low.stats["kernels"] == 1, explain(low)


@pytest.mark.parametrize("fn", [layer_norm, layer_norm_var])
def test_layer_norm_is_one_kernel(fn):
    low = lower(fn, rand(5, 48), rand(48, seed=1), rand(48, seed=2))
    assert low.stats["kernels"] == 1, explain(low)
    assert [n.op.value for n in low.graph.nodes] == ["LayerNormalization"]


def test_rms_norm_is_one_kernel():
    low = lower(rms_norm, rand(5, 48), rand(48, seed=1))
    assert low.stats["kernels"] == 1, explain(low)


def test_mlp_is_one_kernel_per_matmul():
    shapes = [(16, 32), (32,), (32, 32), (32,), (32, 8), (8,)]
    args = [rand(7, 16)] + [rand(*s, seed=i + 1) for i, s in enumerate(shapes)]
    low = lower(mlp, *args)
    assert low.stats["kernels"] == 3, explain(low)
    assert [k["kind"] for k in low.stats["per_kernel"]] == ["gemm"] * 3, explain(low)


def test_gelu_tanh_is_one_pointwise_kernel():
    def gelu(x):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    low = lower(gelu, rand(4, 64))
    assert low.stats["kernels"] == 1, explain(low)


def test_linear_gelu_rides_on_the_matmul():
    def layer(x, w, b):
        h = x @ w + b
        return 0.5 * h * (1.0 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))
    low = lower(layer, rand(8, 16), rand(16, 24, seed=1), rand(24, seed=2))
    assert low.stats["kernels"] == 1, explain(low)


def test_attention_uses_the_fused_attention_kernel():
    def attention(q, k, v):
        s = q @ k.T * (1.0 / math.sqrt(q.shape[-1]))
        p = np.exp(s - s.max(-1, keepdims=True))
        return (p / p.sum(-1, keepdims=True)) @ v
    low = lower(attention, rand(12, 16), rand(10, 16, seed=1), rand(10, 8, seed=2))
    assert low.stats["kernels"] == 1, explain(low)
