"""The decorator, the cache, introspection, and Python-level semantics of traced functions."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado.jit import CacheInfo, JitFunction, Lowered
from jit_helpers import assert_same, skip_if_op_missing


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


X = rand(3, 4)


def test_decorator_forms_and_metadata():
    @cortado.jit
    def plain(x):
        """Doubles."""
        return x * 2

    @cortado.jit(target="interpreter")
    def configured(x):
        return x * 3

    wrapped = cortado.jit(lambda x: x * 4, target="interpreter")
    assert isinstance(plain, JitFunction) and plain.__name__ == "plain" and plain.__doc__ == "Doubles."
    np.testing.assert_array_equal(configured(X), X * 3)
    np.testing.assert_array_equal(wrapped(X), X * 4)
    assert "plain" in repr(plain)


def test_cache_is_per_shape_dtype_and_static_value():
    f = cortado.jit(lambda x, scale: x * scale, target="interpreter")
    f(X, 2.0)
    f(X, 2.0)
    assert f.cache_info() == CacheInfo(hits=1, misses=1, maxsize=64, currsize=1, traces=1)
    f(rand(5, 4), 2.0)            # new shape
    f(X.astype(np.float64), 2.0)  # new dtype
    f(X, 3.0)                     # new static value
    f(X, 2)                       # an int is not the float 2.0
    assert f.cache_info().misses == 5
    np.testing.assert_array_equal(f(X, 3.0), X * np.float32(3.0))
    assert f.cache_info().hits == 2


def test_static_argnames_and_static_arrays():
    def fn(x, table, mode):
        return x @ table if mode == "mm" else x + table[0]
    f = cortado.jit(fn, static_argnames=("table",), target="interpreter")
    t1, t2 = rand(4, 4, seed=1), rand(4, 4, seed=2)
    assert_same(f(X, t1, "mm"), X @ t1, (X,))
    assert_same(f(X, t2, "mm"), X @ t2, (X,))      # a static array is keyed by its contents
    assert f.cache_info().misses == 2
    graph = f.lower(X, t1, "mm").graph
    assert [v.name for v in graph.inputs] == ["x"]   # table is a constant, not an input


def test_static_lists_are_keyed_as_tuples():
    f = cortado.jit(lambda x, perm: x.transpose(perm), target="interpreter")
    y = rand(2, 3, 4)
    np.testing.assert_array_equal(f(y, [2, 0, 1]), y.transpose(2, 0, 1))
    np.testing.assert_array_equal(f(y, (2, 0, 1)), y.transpose(2, 0, 1))
    assert f.cache_info().misses == 2          # list and tuple are different static values


def test_lower_gives_graph_source_and_stats():
    f = cortado.jit(lambda x, w: np.tanh(x @ w), target="interpreter")
    w = rand(4, 5, seed=1)
    low = f.lower(X, w)
    assert isinstance(low, Lowered)
    assert [n.op.value for n in low.graph.nodes] == ["MatMul", "Tanh"]
    assert "@triton.jit" in low.source and low.stats["kernels"] == 1
    assert "MatMul" in str(low) and "@triton.jit" in str(low)
    f(X, w)
    assert (f.cache_info().misses, f.cache_info().hits) == (1, 1)     # lower() filled the cache


def test_trace_does_not_compile():
    f = cortado.jit(lambda x: np.exp(x) + 1)
    g = f.trace(X)
    assert [n.op.value for n in g.nodes] == ["Exp", "Add"]
    assert f.cache_info().misses == 0 and f.cache_info().traces == 1


def test_nodes_remember_the_user_line():
    def fn(x):
        return np.exp(x)
    node = cortado.jit(fn).trace(X).nodes[0]
    assert node.meta["source"].endswith(f"test_api.py:{fn.__code__.co_firstlineno + 1}")
    assert node.meta["function"] == "numpy.exp"


def test_cache_clear_and_maxsize():
    f = cortado.jit(lambda x: x + 1, target="interpreter", maxsize=2)
    for n in (1, 2, 3):
        f(rand(n, 2))
    assert f.cache_info().currsize == 2
    f(rand(1, 2))                              # evicted: compiles again
    assert f.cache_info().misses == 4
    f.cache_clear()
    assert f.cache_info() == CacheInfo(0, 0, 2, 0, 0)


def test_result_structures():
    def fn(x, y):
        s = x + y
        return {"sum": s, "pair": (s, x * y), "list": [y - x, None, "tag", 3]}
    y = rand(3, 4, seed=1)
    got = cortado.jit(fn, target="interpreter")(X, y)
    assert_same(got, fn(X, y), (X,))
    low = cortado.jit(fn, target="interpreter").lower(X, y)
    assert len(low.graph.outputs) == 3           # the repeated s is one output


def test_returning_an_input_unchanged():
    f = cortado.jit(lambda x, y: (x, y * 2), target="interpreter")
    a, b = f(X, X)
    np.testing.assert_array_equal(a, X)
    np.testing.assert_array_equal(b, X * 2)


def test_scalar_results_are_numpy_scalars():
    u, v = rand(6), rand(6, seed=1)
    got = cortado.jit(np.dot, target="interpreter")(u, v)
    assert isinstance(got, np.float32)
    np.testing.assert_allclose(got, np.dot(u, v), rtol=1e-5)


def test_in_place_operators_update_every_name():
    def fn(x):
        y = x * 1
        alias = y
        y += 1
        y *= 2
        return alias, y
    got = cortado.jit(fn, target="interpreter")(X)
    assert_same(got, fn(X), (X,))
    np.testing.assert_array_equal(got[0], got[1])


def test_copies_are_separate_arrays():
    def fn(x):
        y = x.copy()
        z = np.copy(x)
        y += 1
        z *= 3
        return x, y, z
    assert_same(cortado.jit(fn, target="interpreter")(X), fn(X), (X,))


def test_in_place_keeps_the_dtype():
    def fn(i, x):
        i += x            # same_kind casting refuses float into int, as numpy does
        return i
    with pytest.raises(cortado.errors.ShapeError, match="cannot cast"):
        cortado.jit(fn, target="interpreter")(np.ones(3, np.int32), np.ones(3, np.float32))


def test_nested_jit_is_inlined():
    inner = cortado.jit(lambda x: np.maximum(x, 0), target="interpreter")
    outer = cortado.jit(lambda x: inner(x * 2) + 1, target="interpreter")
    np.testing.assert_array_equal(outer(X), np.maximum(X * 2, 0) + 1)
    assert inner.cache_info().misses == 0 and outer.cache_info().misses == 1
    assert outer.lower(X).stats["kernels"] == 1


def test_methods_args_kwargs_and_defaults():
    class Layer:
        def __init__(self, w):
            self.w = w

        @cortado.jit(target="interpreter", static_argnames=("self",))
        def __call__(self, x, *extra, bias=0.5, **named):
            y = x @ self.w + bias
            for e in extra:
                y = y + e
            return y * named.get("scale", 1.0) if "scale" not in named else y * named["scale"]

    layer = Layer(rand(4, 2, seed=3))
    e1 = rand(3, 2, seed=4)
    assert_same(layer(X), X @ layer.w + 0.5, (X,))
    assert_same(layer(X, e1, bias=1.0, scale=rand(3, 2, seed=5)),
                (X @ layer.w + 1.0 + e1) * rand(3, 2, seed=5), (X,))


def test_python_scalars_are_weak_numpy_scalars_are_not():
    f = cortado.jit(lambda x: (x * 2 + 1, x * np.float64(2), x + np.float32(1)), target="interpreter")
    a, b, c = f(X)
    assert (a.dtype, b.dtype, c.dtype) == (np.float32, np.float64, np.float32)   # as numpy 2 gives
    assert_same((a, b, c), (X * 2 + 1, X * np.float64(2), X + np.float32(1)), (X,))


def test_captured_arrays_become_constants():
    w = rand(4, 4, seed=7)
    f = cortado.jit(lambda x: x @ w, target="interpreter")
    assert_same(f(X), X @ w, (X,))
    graph = f.lower(X).graph
    assert [v.name for v in graph.inputs] == ["x"] and len(graph.constants) == 1


def test_integer_and_bool_inputs():
    def fn(i, b):
        return np.where(b, i * 2, -i), i // 3, b & (i > 0)
    i = np.arange(-6, 6, dtype=np.int64).reshape(3, 4)
    b = (np.arange(12).reshape(3, 4) % 3) == 0
    assert_same(cortado.jit(fn, target="interpreter")(i, b), fn(i, b))


def test_float16_and_bfloat16_inputs():
    import ml_dtypes

    f = cortado.jit(lambda x: np.tanh(x) * x + 1, target="interpreter")
    for dt in (np.float16, ml_dtypes.bfloat16):
        x = rand(4, 8).astype(dt)
        got = f(x)
        assert got.dtype == np.dtype(dt)
        np.testing.assert_allclose(got.astype(np.float32), (np.tanh(x) * x + 1).astype(np.float32),
                                   rtol=5e-2, atol=2e-2)


def test_traced_arrays_look_like_arrays():
    seen = {}

    def fn(x):
        seen.update(shape=x.shape, ndim=x.ndim, dtype=x.dtype, size=x.size, len=len(x), T=x.T.shape,
                    repr=repr(x))
        return x
    cortado.jit(fn, target="interpreter")(rand(3, 5))
    assert seen["shape"] == (3, 5) and seen["ndim"] == 2 and seen["dtype"] == np.float32
    assert seen["size"] == 15 and seen["len"] == 3 and seen["T"] == (5, 3) and "float32[3x5]" in seen["repr"]


def test_iterating_a_traced_array_unrolls():
    def fn(x):
        return sum(row * i for i, row in enumerate(x))
    y = rand(3, 4)
    with skip_if_op_missing():
        got = cortado.jit(fn, target="interpreter")(y)
    assert_same(got, fn(y), (y,))


def test_zero_dimensional_inputs_and_results():
    def fn(x, u):
        return x * u, np.dot(x, x) * 2.0 + u, np.where(u > 0, u, 1.0), np.clip(u, 0, 1)
    x, u = rand(7), np.array(2.5, np.float32)
    got = cortado.jit(fn, target="interpreter")(x, u)
    assert_same(got, fn(x, u), (x,))
    assert np.ndim(got[1]) == 0 and np.ndim(got[3]) == 0
