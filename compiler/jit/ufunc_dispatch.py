"""Where a ufunc call on a traced array goes: ``Tracer.__array_ufunc__`` hands every ufunc
call (operators included) to ``dispatch_ufunc``, which traces elementwise calls with
``ufuncs.apply_ufunc``, ``np.matmul`` as a contraction, the reduce / accumulate / outer
methods as the numpy functions they equal, and ``x += y`` in place.

It sits above the modules it routes to (they build on ``ufuncs``' primitives), so it is a
module of its own, registered with the tracer (``tracer.DISPATCH``) when ``cortado.jit`` loads.
"""

from __future__ import annotations

import numpy as np

from .functions import cumsum, expand_dims_to, reduce
from .linalg import matmul
from .trace import Trace
from .tracer import DISPATCH, Tracer
from .ufuncs import apply_ufunc, lift

_REDUCE_METHODS = {np.add: "sum", np.multiply: "prod", np.maximum: "max", np.minimum: "min",
                   np.logical_and: "all", np.logical_or: "any"}


def _name(ufunc) -> str:
    return f"numpy.{ufunc.__name__}"


def _in_place(t: Trace, ufunc, method, inputs, out, kwargs):
    """``x += y`` (numpy passes out=(x,)): compute, cast to x's dtype, and make the tracer ``x``
    hold the result, so every name bound to it sees the update as with numpy arrays."""
    out = out if isinstance(out, tuple) else (out,)
    if method != "__call__" or len(out) != 1 or not isinstance(out[0], Tracer) or out[0]._trace is not t:
        t.unsupported("out= is only traced for in-place operators on traced arrays (x += y)",
                      hint="use the returned array")
    target = out[0]
    result = dispatch_ufunc(t, ufunc, method, inputs, kwargs)
    v = lift(t, result)
    if tuple(v.shape) != tuple(target._value.shape):
        t.shape_error(f"non-broadcastable output operand with shape {target.shape} doesn't match the broadcast "
                      f"shape {tuple(v.shape)}")
    if np.can_cast(v.dtype.numpy, target.dtype, casting="same_kind") is False:
        t.shape_error(f"cannot cast ufunc {ufunc.__name__!r} output from {v.dtype.numpy} to {target.dtype} "
                      "with casting rule 'same_kind'")
    target._value = t.cast(v, target.dtype)
    return target


def dispatch_ufunc(t: Trace, ufunc, method: str, inputs, kwargs):
    name = _name(ufunc) if method == "__call__" else f"{_name(ufunc)}.{method}"
    with t.calling(name):
        out = kwargs.get("out")
        if out is not None:
            return _in_place(t, ufunc, method, inputs, out, {k: v for k, v in kwargs.items() if k != "out"})
        if kwargs.get("where", True) is not True:
            t.unsupported("where= is not traced", hint="use np.where(mask, ufunc(x), fallback)")
        dtype = kwargs.get("dtype")
        allowed = {"out", "where", "dtype", "casting", "order", "subok"} | (
            {"axis", "keepdims"} if method in ("reduce", "accumulate") else set())
        extra = set(kwargs) - allowed
        if extra:
            t.unsupported(f"keyword(s) {', '.join(sorted(extra))} are not traced")
        if ufunc is np.matmul and method == "__call__":
            return matmul(t, *inputs)
        if method == "__call__":
            return apply_ufunc(t, ufunc, inputs, dtype)
        if method == "reduce" and ufunc in _REDUCE_METHODS:
            axis = kwargs.get("axis", 0)
            return reduce(t, _REDUCE_METHODS[ufunc], inputs[0], axis=axis, dtype=dtype,
                          keepdims=kwargs.get("keepdims", False))
        if method == "outer":
            a, b = inputs
            nb = np.ndim(b) if not hasattr(b, "ndim") else b.ndim
            a = expand_dims_to(t, a, nb)
            return apply_ufunc(t, ufunc, (a, b), dtype)
        if method == "accumulate" and ufunc is np.add:
            return cumsum(t, inputs[0], axis=kwargs.get("axis", 0), dtype=dtype)
        t.unsupported(f"the ufunc method {method!r} is not traced")


DISPATCH["ufunc"] = dispatch_ufunc
