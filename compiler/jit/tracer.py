"""``Tracer``: what a jitted function receives instead of each numpy array.

It behaves like an ``ndarray`` that has a shape and a dtype but no values: operators and ufuncs
arrive through ``__array_ufunc__``, numpy functions (``np.sum``, ``np.concatenate``...) through
``__array_function__``, and the usual methods (``.sum``, ``.reshape``, ``.T``...) are defined
here. Each records IR nodes in the trace instead of computing. Anything that needs actual values
(``if x > 0``, ``float(x)``, ``np.asarray(x)``) raises ``TracerConversionError`` at the user's line.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from ..ir import Value
from ..ir.dims import prod
from .errors import TracerConversionError, UnsupportedFunctionError, user_location
from .symbolic import SymDim

__all__ = ["DISPATCH", "Tracer"]

# How each kind of array operation on a tracer is traced, filled in by the modules that trace
# them when ``cortado.jit`` loads: "ufunc" (ufunc_dispatch), "function" and "method"
# (functions: ``np.sum(x)``, ``x.sum()``), "getitem" (indexing). They import ``Tracer``, so
# it cannot import them.
DISPATCH: dict = {}


class Tracer(NDArrayOperatorsMixin):
    __slots__ = ("_trace", "_value")
    __array_priority__ = 1000

    def __init__(self, trace, value: Value):
        self._trace = trace
        self._value = value

    # -- array attributes ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(SymDim.wrap(d, self._trace.env) for d in self._value.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype.numpy

    @property
    def ndim(self) -> int:
        return self._value.type.rank

    @property
    def size(self):
        return SymDim.wrap(prod(self._value.shape), self._trace.env)

    @property
    def itemsize(self) -> int:
        return self._value.dtype.itemsize

    @property
    def T(self) -> "Tracer":
        return self.transpose()

    @property
    def mT(self) -> "Tracer":
        return self.swapaxes(-1, -2)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return int(self.shape[0])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"Tracer({self._value.type}, %{self._value.name})"

    # -- dispatch --------------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return DISPATCH["ufunc"](self._trace, ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return DISPATCH["function"](self._trace, func, args, kwargs)

    # -- values are not available while tracing -------------------------------------------------
    def _no_value(self, what: str):
        raise TracerConversionError(what, user_location())

    def __bool__(self):
        self._no_value("bool() of a traced array (an `if`, `while`, `and`/`or` or `assert` on array values)")

    def __float__(self):
        self._no_value("float() of a traced array")

    def __int__(self):
        self._no_value("int() of a traced array")

    def __index__(self):
        self._no_value("using a traced array as an index or size")

    def __complex__(self):
        self._no_value("complex() of a traced array")

    def __array__(self, dtype=None, copy=None):
        self._no_value("converting a traced array to a numpy array (np.asarray / np.array)")

    def item(self, *args):
        self._no_value("x.item()")

    def tolist(self):
        self._no_value("x.tolist()")

    def __setitem__(self, key, value):
        raise UnsupportedFunctionError("assignment x[...] = v", user_location(),
                                       "traced arrays are immutable",
                                       hint="build the result with np.where(mask, v, x) or np.concatenate")

    def __getitem__(self, key):
        with self._trace.calling("x[...]"):
            return DISPATCH["getitem"](self._trace, self, key)

    # -- methods (numpy's ndarray methods, the supported subset) -------------------------------
    def _call(self, name, *args, **kwargs):
        return DISPATCH["method"](self._trace, name, self, args, kwargs)

    def reshape(self, *shape, order="C"):
        return self._call("reshape", *shape, order=order)

    def transpose(self, *axes):
        return self._call("transpose", *axes)

    def swapaxes(self, a, b):
        return self._call("swapaxes", a, b)

    def squeeze(self, axis=None):
        return self._call("squeeze", axis=axis)

    def flatten(self, order="C"):
        return self._call("flatten", order=order)

    def ravel(self, order="C"):
        return self._call("ravel", order=order)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        return self._call("astype", dtype, casting=casting)

    def copy(self, order="C"):
        return self._call("copy", order=order)     # a new array object: in-place ops on it stay local

    def sum(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return self._call("sum", axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kw)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return self._call("mean", axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kw)

    def max(self, axis=None, out=None, keepdims=False, **kw):
        return self._call("max", axis=axis, out=out, keepdims=keepdims, **kw)

    def min(self, axis=None, out=None, keepdims=False, **kw):
        return self._call("min", axis=axis, out=out, keepdims=keepdims, **kw)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False, **kw):
        return self._call("prod", axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kw)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
        return self._call("var", axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, **kw)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
        return self._call("std", axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims, **kw)

    def argmax(self, axis=None, out=None, keepdims=False):
        return self._call("argmax", axis=axis, out=out, keepdims=keepdims)

    def argmin(self, axis=None, out=None, keepdims=False):
        return self._call("argmin", axis=axis, out=out, keepdims=keepdims)

    def all(self, axis=None, out=None, keepdims=False, **kw):
        return self._call("all", axis=axis, out=out, keepdims=keepdims, **kw)

    def any(self, axis=None, out=None, keepdims=False, **kw):
        return self._call("any", axis=axis, out=out, keepdims=keepdims, **kw)

    def cumsum(self, axis=None, dtype=None, out=None):
        return self._call("cumsum", axis=axis, dtype=dtype, out=out)

    def clip(self, min=None, max=None, out=None, **kw):
        return self._call("clip", min, max, out=out, **kw)

    def round(self, decimals=0, out=None):
        return self._call("round", decimals=decimals, out=out)

    def dot(self, b, out=None):
        return self._call("dot", b, out=out)

    def __getattr__(self, name):
        # ndarray attributes this class does not define: one clear error, not AttributeError soup
        if name.startswith("__"):
            raise AttributeError(name)
        if hasattr(np.ndarray, name):
            raise UnsupportedFunctionError(f"ndarray.{name}", user_location(), "this method is not traced")
        raise AttributeError(f"traced array has no attribute {name!r}")
