"""Shared by the jit tests: run a case through cortado.jit and compare with numpy's own result."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from cortado.jit import UnsupportedFunctionError
from cortado.testing.reference import assert_close


@contextlib.contextmanager
def skip_if_op_missing():
    """Fail naming the op when a trace needs an IR op this build does not register: every op
    the tracer emits is registered, so this is a regression, not a reason to skip."""
    try:
        yield
    except UnsupportedFunctionError as e:
        if e.missing_op is None:
            raise
        pytest.fail(f"needs the IR op {e.missing_op.value}, not registered in this build")


def _tolerance_dtype(arrays) -> str:
    """The loosest float type involved: float64 results computed from float32 inputs are as
    accurate as float32, so they are compared at float32 tolerance."""
    order = ["bfloat16", "float16", "float32", "float64"]
    names = [np.asarray(a).dtype.name for a in arrays if np.asarray(a).dtype.kind == "f"]
    return min(names, key=order.index) if names else "float32"


def assert_same(got, want, inputs=(), what="result"):
    """Same structure, same dtypes and shapes, close values."""
    if isinstance(want, (tuple, list)):
        assert type(got) is type(want) and len(got) == len(want), f"{what}: {type(got)} vs {type(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, inputs, f"{what}[{i}]")
        return
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), f"{what}: keys {list(got)} vs {list(want)}"
        for k in want:
            assert_same(got[k], want[k], inputs, f"{what}[{k!r}]")
        return
    if want is None or isinstance(want, (str, int, float)) and not isinstance(want, np.generic):
        assert got == want, f"{what}: {got!r} != {want!r}"
        return
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype, f"{what}: dtype {g.dtype} != numpy's {w.dtype}"
    assert g.shape == w.shape, f"{what}: shape {g.shape} != numpy's {w.shape}"
    if w.dtype.kind == "f":
        finite = np.isfinite(w)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{what}: NaNs differ")
        np.testing.assert_array_equal(np.isinf(g) & ~finite, np.isinf(w), err_msg=f"{what}: infs differ")
        assert_close(g[finite], w[finite], dtype=_tolerance_dtype(list(inputs) + [w]), what=what)
    else:
        np.testing.assert_array_equal(g, w, err_msg=what)
