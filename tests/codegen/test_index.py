"""The index algebra: simplified expressions compute the same offsets as numpy."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cortado.codegen import index as ix

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


def evaluate(e, env):
    kind = e[0]
    if kind in ("const", "size"):
        return e[1]
    if kind == "var":
        return env[e[1]]
    if kind == "coord":
        return evaluate(ix._coord_value(e), env)
    a, b = evaluate(e[1], env), evaluate(e[2], env)
    ops = {"add": np.add, "mul": np.multiply, "floordiv": np.floor_divide, "mod": np.mod, "max": np.maximum,
           "min": np.minimum}
    return ops[kind](a, b)


@given(shapes)
def test_ravel_of_unravel_is_identity(shape):
    lin = ix.var("offs")
    e = ix.ravel(ix.unravel(lin, shape), shape)
    offs = np.arange(int(np.prod(shape)))
    np.testing.assert_array_equal(np.broadcast_to(evaluate(e, {"offs": offs}), offs.shape), offs)
    if 1 not in shape:
        assert e == lin   # collapses syntactically: no div/mod in the kernel


@given(shapes, st.data())
def test_reshape_then_transpose_offsets_match_numpy(shape, data):
    perm = data.draw(st.permutations(range(len(shape))))
    out_shape = tuple(shape[p] for p in perm)
    offs = np.arange(int(np.prod(out_shape)))
    idx = ix.unravel(ix.var("offs"), out_shape)
    src = [None] * len(shape)
    for k, p in enumerate(perm):
        src[p] = idx[k]
    off = evaluate(ix.ravel(tuple(src), shape), {"offs": offs})
    base = np.arange(int(np.prod(shape))).reshape(shape)
    np.testing.assert_array_equal(base.reshape(-1)[off], np.transpose(base, perm).reshape(-1))


@given(shapes, st.data())
def test_broadcast_offsets_match_numpy(shape, data):
    small = tuple(data.draw(st.sampled_from([1, d])) for d in shape)
    offs = np.arange(int(np.prod(shape)))
    idx = ix.unravel(ix.var("offs"), shape)
    at = tuple(ix.const(0) if d == 1 else i for d, i in zip(small, idx))
    off = evaluate(ix.ravel(at, small), {"offs": offs})
    base = np.arange(int(np.prod(small))).reshape(small)
    np.testing.assert_array_equal(base.reshape(-1)[off], np.broadcast_to(base, shape).reshape(-1))


def test_sizes_render_as_arguments():
    names = {}
    e = ix.ravel(ix.unravel(ix.var("offs"), (4, 6)), (4, 6))
    assert ix.render(e, lambda s: None) == "offs"
    e = ix.mod(ix.floordiv(ix.var("offs"), ix.dim(6)), ix.dim(4))
    text = ix.render(e, lambda s: names.setdefault(s[1], f"s{len(names)}") if s[0] == "sizetext" else None)
    assert text == "((offs // s0) % s1)"
