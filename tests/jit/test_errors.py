"""Every mistake a traced function can make ends in one CortadoError that names the numpy
function (or construct) and the user's file:line."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import cortado
from cortado.errors import CortadoError, ShapeError, UnsupportedOpError
from cortado.jit import JitError, TracerConversionError, UnsupportedFunctionError

HERE = os.path.basename(__file__)
X = np.ones((3, 4), np.float32)


def line_of(fn, marker: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, text in enumerate(lines) if marker in text)


def run(fn, *args, **kw):
    return cortado.jit(fn, target="interpreter", **kw)(*args)


def check(excinfo, fn, marker, *names):
    text = str(excinfo.value)
    assert isinstance(excinfo.value, CortadoError)
    assert f"{HERE}:{line_of(fn, marker)}" in text, text
    for n in names:
        assert n in text, text


def test_unsupported_numpy_function():
    def fn(x):
        return np.sort(x)   # <- here
    with pytest.raises(UnsupportedFunctionError) as e:
        run(fn, X)
    check(e, fn, "<- here", "numpy.sort", "not supported")
    assert isinstance(e.value, UnsupportedOpError)


def test_unsupported_submodule_function():
    def fn(x):
        return np.fft.fft(x)   # <- here
    with pytest.raises(UnsupportedFunctionError) as e:
        run(fn, X)
    check(e, fn, "<- here", "numpy.fft")


def test_unsupported_ufunc():
    def fn(x):
        return np.arctan2(x, x)   # <- here
    with pytest.raises(UnsupportedFunctionError) as e:
        run(fn, X)
    check(e, fn, "<- here", "numpy.arctan2")


def test_unsupported_method():
    def fn(x):
        return x.sort()   # <- here
    with pytest.raises(UnsupportedFunctionError) as e:
        run(fn, X)
    check(e, fn, "<- here", "ndarray.sort")


def test_control_flow_on_array_values():
    def fn(x):
        if x > 0:   # <- here
            return x
        return -x
    with pytest.raises(TracerConversionError) as e:
        run(fn, X)
    check(e, fn, "<- here", "bool()", "np.where")


CONVERSIONS = [
    lambda x: float(x),
    lambda x: int(x),
    lambda x: np.asarray(x),
    lambda x: x.item(),
    lambda x: x.tolist(),
    lambda x: range(x),
    lambda x: np.allclose(x, x),
]


@pytest.mark.parametrize("fn", CONVERSIONS, ids=["float", "int", "asarray", "item", "tolist", "range", "allclose"])
def test_conversions_need_values(fn):
    with pytest.raises(TracerConversionError) as e:
        run(fn, X)
    assert f"{HERE}:{fn.__code__.co_firstlineno}" in str(e.value)
    assert "traced array" in str(e.value)


def test_assignment_is_refused():
    def fn(x):
        x[0] = 1.0   # <- here
        return x
    with pytest.raises(UnsupportedFunctionError) as e:
        run(fn, X)
    check(e, fn, "<- here", "assignment", "np.where")


def test_shape_mismatch_names_the_function():
    def fn(x, y):
        return x + y   # <- here
    with pytest.raises(ShapeError) as e:
        run(fn, X, np.ones((5, 4), np.float32))
    check(e, fn, "<- here", "numpy.add", "broadcast")


def test_matmul_mismatch():
    def fn(x, y):
        return x @ y   # <- here
    with pytest.raises(ShapeError) as e:
        run(fn, X, X)
    check(e, fn, "<- here", "numpy.matmul", "mismatch")


def test_bad_reshape():
    def fn(x):
        return x.reshape(5, -1)   # <- here
    with pytest.raises(ShapeError) as e:
        run(fn, X)
    check(e, fn, "<- here", "ndarray.reshape", "cannot reshape")


def test_bad_axis():
    def fn(x):
        return np.concatenate([x, x], axis=3)   # <- here
    with pytest.raises(ShapeError) as e:
        run(fn, X)
    check(e, fn, "<- here", "numpy.concatenate", "out of bounds")


def test_boolean_mask_index():
    def fn(x):
        return x[x > 0]   # <- here
    with pytest.raises(UnsupportedFunctionError) as e:
        run(fn, X)
    check(e, fn, "<- here", "boolean mask", "np.where")


def test_one_argument_where():
    def fn(x):
        return np.where(x > 0)   # <- here
    with pytest.raises(UnsupportedFunctionError) as e:
        run(fn, X)
    check(e, fn, "<- here", "numpy.where", "data-dependent")


def test_out_argument():
    def fn(x, y):
        np.add(x, 1, out=np.empty((3, 4), np.float32))   # <- here
        return y
    with pytest.raises(UnsupportedFunctionError) as e:
        run(fn, X, X)
    check(e, fn, "<- here", "numpy.add", "out=")


def test_complex_constant():
    def fn(x):
        return x * np.array([1j, 2j, 3j, 4j])   # <- here
    with pytest.raises(UnsupportedFunctionError) as e:
        run(fn, X)
    check(e, fn, "<- here", "complex128")


def test_tracer_leaking_into_another_trace():
    kept = []

    def first(x):
        kept.append(x)
        return x * 2

    def second(x):
        return x + kept[0]   # <- here
    run(first, X)
    with pytest.raises(UnsupportedFunctionError) as e:
        run(second, X)
    check(e, second, "<- here", "another cortado.jit trace")


def test_argument_errors_point_at_the_call():
    f = cortado.jit(lambda x, y: x + y, target="interpreter")
    with pytest.raises(JitError, match="signature") as e:
        f(X)   # <- call
    assert f"{HERE}:" in str(e.value)
    with pytest.raises(JitError, match="complex"):
        f(X.astype(np.complex64), X)
    with pytest.raises(JitError, match="empty"):
        f(np.ones((0, 4), np.float32), X)
    with pytest.raises(JitError, match="hashable"):
        f(X, object.__new__(type("Unhashable", (), {"__hash__": None})))


def test_static_argnames_must_name_parameters():
    with pytest.raises(JitError, match="'n'"):
        cortado.jit(lambda x: x, static_argnames=("n",))


def test_results_must_be_arrays_or_containers():
    with pytest.raises(JitError, match="returned a"):
        run(lambda x: object(), X)
    with pytest.raises(JitError, match="nothing to compile"):
        run(lambda x: 3, X)


def test_cuda_tensor_on_the_interpreter():
    class FakeCudaTensor:
        def __dlpack_device__(self):
            return (2, 0)

        def __dlpack__(self, stream=None):
            return np.ones((2, 3), np.float32).__dlpack__()

    with pytest.raises(JitError, match="CUDA tensor") as e:
        run(lambda x: x * 2, FakeCudaTensor())
    assert "interpreter" in str(e.value)
