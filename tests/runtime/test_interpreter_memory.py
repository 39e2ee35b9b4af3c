"""The interpreter's whole-tile loads and stores do exactly what its element loop does.

Triton's own ``_interpreter.load`` / ``store`` (the C++ loop the interpreter calls) is the
reference: random tiles of addresses into a buffer (strided, permuted, repeated, partly
masked, every dtype the kernels use), read and written both ways.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cortado.runtime.devices import interpreter_memory

_interpreter = pytest.importorskip("triton._C.libtriton").interpreter

DTYPES = [np.float32, np.float16, np.uint16, np.int64, np.int32, np.int8, np.bool_, np.float64]


@st.composite
def tiles(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    size = draw(st.integers(1, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    buf = (rng.standard_normal(size) * 10).astype(dtype) if dtype.kind == "f" else \
        rng.integers(0, 2 if dtype == np.bool_ else 100, size).astype(dtype)
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=0, max_size=3)))
    kind = draw(st.sampled_from(["strided", "random", "repeated"]))
    n = int(np.prod(shape, dtype=np.int64))
    if kind == "strided":
        stride = draw(st.integers(1, 3))
        idx = (np.arange(n) * stride) % size
    elif kind == "random":
        idx = rng.integers(0, size, n)
    else:
        idx = np.full(n, rng.integers(0, size))
    mask_kind = draw(st.sampled_from(["all", "some", "none"]))
    mask = {"all": np.ones(n, bool), "none": np.zeros(n, bool), "some": rng.random(n) < 0.6}[mask_kind]
    bad = rng.integers(1 << 40, 1 << 41, n)    # masked-out lanes may hold any address
    idx = np.where(mask, idx, -bad)
    return buf, idx.reshape(shape), mask.reshape(shape), rng


def _addresses(buf, idx):
    return (buf.ctypes.data + idx.astype(np.int64) * buf.itemsize).astype(np.uint64)


@settings(max_examples=150, deadline=None)
@given(tiles(), st.booleans())
def test_gather_matches_the_interpreter_loop(tile, with_other):
    buf, idx, mask, rng = tile
    ptrs = _addresses(buf, idx)
    other = np.asarray(rng.integers(0, 2, idx.shape)).astype(buf.dtype) if with_other else None
    got = interpreter_memory.gather(ptrs, mask, other, buf.dtype)
    fill = np.zeros(idx.shape, buf.dtype) if other is None else other
    want = _interpreter.load(ptrs, mask, fill, buf.dtype)
    assert got is not None
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@settings(max_examples=150, deadline=None)
@given(tiles())
def test_scatter_matches_the_interpreter_loop(tile):
    buf, idx, mask, rng = tile
    values = (rng.standard_normal(idx.shape) * 10).astype(buf.dtype)
    ours, theirs = buf.copy(), buf.copy()
    assert interpreter_memory.scatter(_addresses(ours, idx), values, mask)
    _interpreter.store(_addresses(theirs, idx), values, mask)
    np.testing.assert_array_equal(ours, theirs)


def test_tiles_a_window_cannot_express_go_to_the_interpreter_loop():
    buf = np.arange(8, dtype=np.float32)
    ptrs = (buf.ctypes.data + np.array([0, 2, 4], np.int64)).astype(np.uint64)   # half-element steps
    assert interpreter_memory.gather(ptrs, np.ones(3, bool), None, buf.dtype) is None
    assert not interpreter_memory.scatter(ptrs, np.ones(3, np.float32), np.ones(3, bool))
    np.testing.assert_array_equal(buf, np.arange(8, dtype=np.float32))      # nothing written


def test_installed_by_the_interpreter_device_and_kernels_still_compute():
    """A compiled model on the interpreter target runs through the patched builder and
    matches onnxruntime."""
    import cortado
    from triton.runtime import interpreter as ti

    from cortado.testing.reference import assert_close, run_onnxruntime
    from tests.runtime.small_cnn import images, small_cnn

    compiled = cortado.compile(small_cnn(), target="interpreter")
    x = images(3, seed=1)
    got = compiled.run({"image": x})["probs"]
    assert getattr(ti.InterpreterBuilder.create_masked_load, "_cortado_memory", False)
    assert_close(got, run_onnxruntime(small_cnn(), {"image": x})[0])
