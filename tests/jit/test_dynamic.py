"""dynamic=True: leading dims stay symbolic, so new batch sizes reuse the compiled kernels; dims
the trace needs concrete are specialized (and guarded) instead of guessed."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado.ir import SymExpr
from jit_helpers import assert_same, skip_if_op_missing


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def mlp(x, w1, b1, w2, b2):
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2


def weights():
    return rand(16, 32, seed=1), rand(32, seed=2), rand(32, 4, seed=3), rand(4, seed=4)


def test_new_batch_size_compiles_nothing():
    f = cortado.jit(mlp, dynamic=True, target="interpreter")
    w = weights()
    for i, n in enumerate((3, 5, 1, 16, 3)):
        x = rand(n, 16, seed=10 + i)
        assert_same(f(x, *w), mlp(x, *w), (x,))
    info = f.cache_info()
    assert (info.misses, info.hits, info.currsize) == (1, 4, 1)
    graph = f.lower(rand(2, 16), *w).graph
    assert isinstance(graph.inputs[0].shape[0], SymExpr)
    assert all(isinstance(d, int) for v in graph.inputs[1:] for d in v.shape)   # weights specialized


def test_kernels_are_shared_across_batch_sizes():
    f = cortado.jit(mlp, dynamic=True, target="interpreter")
    w = weights()
    a = f.lower(rand(3, 16), *w)
    b = f.lower(rand(9, 16), *w)
    assert a.compiled is b.compiled
    assert f.cache_info().misses == 1


def test_without_dynamic_each_shape_compiles():
    f = cortado.jit(mlp, target="interpreter")
    w = weights()
    f(rand(3, 16), *w)
    f(rand(5, 16), *w)
    f(rand(3, 16), *w)
    assert (f.cache_info().misses, f.cache_info().hits) == (2, 1)


def test_arguments_combined_elementwise_share_one_symbol():
    f = cortado.jit(lambda x, y: x * y + x, dynamic=True, target="interpreter")
    for n in (4, 6, 2):
        x, y = rand(n, 8), rand(n, 8, seed=1)
        assert_same(f(x, y), x * y + x, (x,))
    assert f.cache_info().misses == 1
    assert f.lower(rand(4, 8), rand(4, 8)).spec == ("N", "N")


def test_a_size_one_argument_is_specialized_and_guarded():
    f = cortado.jit(lambda x, y: x - y, dynamic=True, target="interpreter")
    x, y = rand(5, 8), rand(1, 8, seed=1)
    assert_same(f(x, y), x - y, (x,))              # y broadcasts: its leading dim is the literal 1
    assert f.lower(x, y).spec == ("N", 1)
    x2 = rand(7, 8, seed=2)
    assert_same(f(x2, y), x2 - y, (x2,))
    assert f.cache_info().misses == 1
    y2 = rand(7, 8, seed=3)                        # now y has the batch size: another version
    assert_same(f(x2, y2), x2 - y2, (x2,))
    assert f.cache_info().misses == 2


def test_symbolic_reshapes():
    def fn(x):
        return x.reshape(-1, 4) * 2, x.reshape(x.shape[0] * 2, -1), x.T
    f = cortado.jit(fn, dynamic=True, target="interpreter")
    for n in (3, 6):
        x = rand(n, 8)
        assert_same(f(x), fn(x), (x,))
    assert f.cache_info().misses == 1


def test_using_a_dim_as_a_python_number_specializes_it():
    def fn(x):
        return x * float(x.shape[0])                # needs the number: the batch becomes static
    f = cortado.jit(fn, dynamic=True, target="interpreter")
    x = rand(3, 4)
    assert_same(f(x), fn(x), (x,))
    assert f.lower(x).spec == (3,)
    x5 = rand(5, 4)
    assert_same(f(x5), fn(x5), (x5,))
    assert f.cache_info().misses == 2


def test_python_loop_over_the_batch_unrolls_for_each_size():
    def fn(x):
        total = x[0] * 0
        for row in x:                               # iterating needs len(x): specializes
            total = total + row
        return total
    f = cortado.jit(fn, dynamic=True, target="interpreter")
    for n in (2, 3):
        x = rand(n, 5)
        with skip_if_op_missing():
            got = f(x)
        assert_same(got, fn(x), (x,))
    assert f.cache_info().misses == 2


def test_dynamic_can_name_the_arguments():
    f = cortado.jit(lambda x, y: x + y, dynamic=("x",), target="interpreter")
    x, y = rand(4, 8), rand(8, seed=1)
    assert f.lower(x, y).spec == ("N", None)
    f(rand(9, 8), y)
    assert f.cache_info().misses == 1


def test_normalizations_over_symbolic_batches():
    def fn(x, g):
        e = np.exp(x - x.max(-1, keepdims=True))
        mu = x.mean(-1, keepdims=True)
        ln = (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * g
        return e / e.sum(-1, keepdims=True), ln, x.mean(axis=0)
    f = cortado.jit(fn, dynamic=True, target="interpreter")
    g = rand(24, seed=9)
    for n in (2, 7):
        x = rand(n, 24, seed=n)
        with skip_if_op_missing():
            got = f(x, g)
        assert_same(got, fn(x, g), (x,))
    assert f.cache_info().misses == 1


def test_slicing_the_symbolic_dim_specializes_it():
    def fn(x):
        return x[1:] + x[:-1]
    f = cortado.jit(fn, dynamic=True, target="interpreter")
    for n in (3, 4):
        x = rand(n, 2)
        with skip_if_op_missing():
            got = f(x)
        assert_same(got, fn(x), (x,))
    assert f.cache_info().misses == 2


@pytest.mark.parametrize("n", [2, 5])
def test_full_slices_keep_the_dim_symbolic(n):
    def fn(x):
        return x[:, 1:3] * 2, x[..., None]
    f = cortado.jit(fn, dynamic=True, target="interpreter")
    f_calls = [rand(n, 4), rand(n + 3, 4, seed=1)]
    for x in f_calls:
        with skip_if_op_missing():
            got = f(x)
        assert_same(got, fn(x), (x,))
    assert f.cache_info().misses == 1
