"""The numpy function table: which numpy functions and ndarray methods a trace understands.

``__array_function__`` hands every numpy API call that sees a tracer to ``dispatch_function``;
the table maps the numpy function object to a handler with numpy's own signature. Anything
not in the table is one ``UnsupportedFunctionError`` naming the function and the user's line.

Reductions follow numpy's result types (``np.sum`` of int32 is int64, ``np.mean`` of ints is
float64) by asking numpy itself on a one-element array of the operand's dtype.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..ir import DType, Op
from ..ops import get_op
from . import linalg, shapeops
from .indexing import take
from .shapeops import norm_axes, norm_axis
from .symbolic import Specialize, symbols_of, unwrap
from .trace import Trace
from .tracer import DISPATCH
from .ufuncs import UFUNCS, apply_ufunc, lift, operand_dtype

__all__ = ["FUNCTIONS", "METHODS", "dispatch_function", "call_method", "reduce", "cumsum"]

_REDUCE_OPS = {"sum": Op.REDUCE_SUM, "mean": Op.REDUCE_MEAN, "max": Op.REDUCE_MAX, "min": Op.REDUCE_MIN,
               "prod": Op.REDUCE_PROD, "all": Op.REDUCE_MIN, "any": Op.REDUCE_MAX}


def _no(t: Trace, **given):
    for k, v in given.items():
        if v is not None and v is not np._NoValue:
            t.unsupported(f"{k}= is not traced")


def _numpy_result_dtype(kind: str, dtype_in: np.dtype, dtype=None) -> np.dtype:
    probe = np.zeros((1,), dtype=dtype_in)
    if kind in ("all", "any"):
        return np.dtype(np.bool_)
    if kind in ("max", "min"):
        return dtype_in
    with np.errstate(all="ignore"):
        return getattr(np, kind)(probe, dtype=dtype).dtype


def reduce(t: Trace, kind: str, x, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
           ddof=0, **kw):
    _no(t, out=out, initial=initial, where=where)
    if kw:
        t.unsupported(f"keyword(s) {', '.join(sorted(kw))} are not traced")
    v = lift(t, x)
    axes = norm_axes(t, axis, v.type.rank)
    keep = bool(keepdims) and keepdims is not np._NoValue
    if kind in ("var", "std"):
        return _moment(t, kind, v, axes, dtype, keep, ddof)
    result = _numpy_result_dtype(kind, v.dtype.numpy, dtype)
    v = t.cast(v, result)
    if not axes:
        return t.tracer(v)
    y = t.apply(_REDUCE_OPS[kind], [v], axes=axes, keepdims=int(keep))
    return t.tracer(y)


def _moment(t: Trace, kind: str, v, axes, dtype, keep: bool, ddof):
    """var = mean(|x - mean(x)|^2) as numpy computes it (two passes, divisor n - ddof)."""
    result = _numpy_result_dtype("mean", v.dtype.numpy, dtype)
    if v.dtype is DType.BOOL or not result.kind == "f":
        result = np.dtype(np.float64)
    v = t.cast(v, result)
    mean = t.apply(Op.REDUCE_MEAN, [v], axes=axes, keepdims=1)
    d = t.apply(Op.SUB, [v, mean])
    sq = t.apply(Op.MUL, [d, d])
    if ddof:
        n = 1
        for a in axes:
            n = n * v.shape[a]
        if not isinstance(n, int):      # the divisor must be a number in the kernel
            raise Specialize(static=symbols_of((n,)))
        total = t.apply(Op.REDUCE_SUM, [sq], axes=axes, keepdims=int(keep))
        var = t.apply(Op.DIV, [total, t.scalar(max(n - ddof, 0), result)])
    else:
        var = t.apply(Op.REDUCE_MEAN, [sq], axes=axes, keepdims=int(keep))
    return t.tracer(var if kind == "var" else t.apply(Op.SQRT, [var]))


def _arg(kind: Op):
    def fn(t: Trace, a, axis=None, out=None, *, keepdims=False):
        _no(t, out=out)
        v = lift(t, a)
        if v.dtype is DType.BOOL:
            v = t.cast(v, np.int8)
        if axis is None:
            flat = t.reshape(v, (v.type.numel,))
            y = t.apply(kind, [flat], axis=0, keepdims=0)
            return t.tracer(t.reshape(y, (1,) * v.type.rank) if keepdims else y)
        ax = norm_axis(t, axis, v.type.rank)
        return t.tracer(t.apply(kind, [v], axis=ax, keepdims=int(bool(keepdims))))
    return fn


def cumsum(t: Trace, a, axis=None, dtype=None, out=None):
    _no(t, out=out)
    v = lift(t, a)
    v = t.cast(v, _numpy_result_dtype("sum", v.dtype.numpy, dtype))
    if axis is None:
        v = t.reshape(v, (v.type.numel,))
        axis = 0
    return t.tracer(t.apply(Op.CUM_SUM, [v], axis=norm_axis(t, axis, v.type.rank)))


def where(t: Trace, condition, x=None, y=None):
    if x is None and y is None:
        t.unsupported("np.where(condition) (the indices of true elements) has a data-dependent shape",
                      hint="use the three-argument form np.where(condition, x, y)")
    dummies = [np.zeros((), operand_dtype(a)) if isinstance(operand_dtype(a), np.dtype) else a for a in (x, y)]
    dt = np.asarray(np.where(True, *dummies)).dtype
    c = lift(t, condition)
    c = c if c.dtype is DType.BOOL else t.cast(c, np.bool_)
    xv, yv = lift(t, x, dt), lift(t, y, dt)
    t.broadcast_shape(c.shape, xv.shape, yv.shape)
    return t.tracer(t.numpy_shaped(t.apply(Op.WHERE, [c, xv, yv]), (condition, x, y)))


def clip(t: Trace, a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue, max=np._NoValue, **kw):
    _no(t, out=out)
    if kw:
        t.unsupported(f"keyword(s) {', '.join(sorted(kw))} are not traced")

    def pick(*options):
        return next((o for o in options if o is not None and o is not np._NoValue), None)

    lo, hi = pick(a_min, min), pick(a_max, max)
    if lo is None and hi is None:
        return t.tracer(lift(t, a))
    dummy = [None if e is None else np.zeros((), operand_dtype(e)) if isinstance(operand_dtype(e), np.dtype) else e
             for e in (a, lo, hi)]
    dt = np.asarray(np.clip(*dummy)).dtype
    v = lift(t, a, dt)
    scalar = [b is None or np.ndim(b) == 0 and not hasattr(b, "_trace") for b in (lo, hi)]
    if all(scalar):
        bounds = [None if b is None else lift(t, b, dt) for b in (lo, hi)]
        if v.type.rank == 0:      # scalar constants are stored as (1,); Clip wants them no wider than x
            bounds = [None if b is None else t.reshape(b, ()) for b in bounds]
        while bounds and bounds[-1] is None:
            bounds.pop()
        return t.tracer(t.numpy_shaped(t.apply(Op.CLIP, [v] + bounds), (a,)))
    y = v
    if lo is not None:
        y = t.apply(Op.MAX, [y, lift(t, lo, dt)])
    if hi is not None:
        y = t.apply(Op.MIN, [y, lift(t, hi, dt)])
    return t.tracer(t.numpy_shaped(y, [b for b in (a, lo, hi) if b is not None]))


def _round(t: Trace, a, decimals=0, out=None):
    _no(t, out=out)
    v = lift(t, a)
    if not v.dtype.is_float:
        return t.tracer(v)
    if decimals == 0:
        return t.tracer(t.apply(Op.ROUND, [v]))
    scale = t.scalar(10.0 ** decimals, v.dtype.numpy)
    return t.tracer(t.apply(Op.DIV, [t.apply(Op.ROUND, [t.apply(Op.MUL, [v, scale])]), scale]))


def _astype(t: Trace, x, dtype, /, *, copy=True, device=None, casting="unsafe"):
    if casting not in ("unsafe", "same_kind", "safe", "equiv", "no"):
        t.unsupported(f"casting={casting!r}")
    return t.tracer(t.cast(lift(t, x), np.dtype(dtype)))


def _full_like(fill):
    def fn(t: Trace, a, *args, dtype=None, order="K", subok=True, shape=None, device=None):
        value = fill if fill is not None else args[0]
        if fill is None:
            args = args[1:]
        if args:
            dtype = args[0]
        v = lift(t, a)
        dt = np.dtype(dtype) if dtype is not None else v.dtype.numpy
        target = tuple(v.shape) if shape is None else tuple(shape if isinstance(shape, (tuple, list)) else (shape,))
        c = t.scalar(value, dt)
        target = tuple(unwrap(d) for d in target)
        if not target:
            return t.tracer(t.reshape(c, ()))
        if all(isinstance(d, int) for d in target) and not _registered(Op.EXPAND):
            return t.tracer(t.constant(np.full(target, value, dtype=dt)))
        return t.tracer(t.apply(Op.EXPAND, [c], shape=target))
    return fn


def _registered(op: Op) -> bool:
    try:
        get_op(op)
        return True
    except KeyError:
        return False


def _isclose(t: Trace, a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    diff = apply_ufunc(t, np.absolute, (apply_ufunc(t, np.subtract, (a, b)),))
    bound = apply_ufunc(t, np.add, (atol, apply_ufunc(t, np.multiply, (rtol, apply_ufunc(t, np.absolute, (b,))))))
    close = apply_ufunc(t, np.less_equal, (diff, bound))
    if equal_nan:
        both = apply_ufunc(t, np.logical_and, (apply_ufunc(t, np.isnan, (a,)), apply_ufunc(t, np.isnan, (b,))))
        close = apply_ufunc(t, np.logical_or, (close, both))
    return close


def _norm(t: Trace, x, ord=None, axis=None, keepdims=False):
    if ord not in (None, 2, "fro") or (ord == 2 and axis is None and np.ndim(x) != 1 and getattr(x, "ndim", 1) != 1):
        t.unsupported(f"ord={ord!r} is not traced (the 2-norm / Frobenius norm is)")
    v = lift(t, x)
    if not v.dtype.is_float:
        v = t.cast(v, np.float64)
    axes = norm_axes(t, axis, v.type.rank)
    s = t.apply(Op.REDUCE_SUM, [t.apply(Op.MUL, [v, v])], axes=axes, keepdims=int(bool(keepdims)))
    return t.tracer(t.apply(Op.SQRT, [s]))


def _needs_values(name: str):
    def fn(t: Trace, *args, **kwargs):
        from .errors import TracerConversionError

        raise TracerConversionError(f"{name} (it returns a Python value computed from the arrays)", t.where())
    return fn


def _reduction(kind):
    """A handler with numpy's positional order for this reduction."""
    if kind in ("max", "min", "all", "any"):
        return lambda t, a, axis=None, out=None, keepdims=False, **kw: reduce(t, kind, a, axis=axis, out=out,
                                                                              keepdims=keepdims, **kw)
    if kind in ("var", "std"):
        return lambda t, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw: reduce(
            t, kind, a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, ddof=ddof, **kw)
    return lambda t, a, axis=None, dtype=None, out=None, keepdims=False, **kw: reduce(
        t, kind, a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kw)


def _result_type(t: Trace, *arrays_and_dtypes):
    return np.result_type(*[operand_dtype(a) if hasattr(a, "_trace") else a for a in arrays_and_dtypes])


FUNCTIONS: dict[Callable, Callable] = {
    np.sum: _reduction("sum"), np.mean: _reduction("mean"), np.max: _reduction("max"), np.amax: _reduction("max"),
    np.min: _reduction("min"), np.amin: _reduction("min"), np.prod: _reduction("prod"),
    np.all: _reduction("all"), np.any: _reduction("any"), np.var: _reduction("var"), np.std: _reduction("std"),
    np.argmax: _arg(Op.ARG_MAX), np.argmin: _arg(Op.ARG_MIN), np.cumsum: cumsum,
    np.reshape: lambda t, a, shape=None, order="C", **kw: shapeops.reshape(t, a, kw.get("newshape", shape),
                                                                           order=order),
    np.transpose: lambda t, a, axes=None: shapeops.transpose(t, a, *(() if axes is None else (axes,))),
    np.swapaxes: shapeops.swapaxes, np.moveaxis: shapeops.moveaxis, np.expand_dims: shapeops.expand_dims,
    np.squeeze: shapeops.squeeze, np.ravel: shapeops.ravel, np.concatenate: shapeops.concatenate,
    np.stack: shapeops.stack, np.vstack: shapeops.vstack, np.hstack: shapeops.hstack,
    np.atleast_1d: lambda t, *a: _each(t, 1, a), np.atleast_2d: lambda t, *a: _each(t, 2, a),
    np.atleast_3d: lambda t, *a: _each(t, 3, a),
    np.broadcast_to: shapeops.broadcast_to, np.broadcast_arrays: shapeops.broadcast_arrays,
    np.flip: shapeops.flip, np.tile: shapeops.tile, np.pad: shapeops.pad,
    np.tril: shapeops.trilu(False), np.triu: shapeops.trilu(True),
    np.where: where, np.clip: clip, np.round: _round, np.around: _round, np.astype: _astype,
    np.take: take, np.copy: lambda t, a, *args, **kw: t.tracer(lift(t, a)),
    np.zeros_like: _full_like(0), np.ones_like: _full_like(1), np.full_like: _full_like(None),
    np.empty_like: _full_like(0),
    np.isclose: _isclose, np.linalg.norm: _norm,
    np.dot: linalg.dot, np.vdot: linalg.vdot, np.inner: linalg.inner, np.outer: linalg.outer,
    np.einsum: linalg.einsum, np.tensordot: linalg.tensordot,
    np.shape: lambda t, a: a.shape, np.ndim: lambda t, a: a.ndim, np.size: lambda t, a, axis=None:
        a.size if axis is None else a.shape[axis],
    np.result_type: _result_type,
    np.allclose: _needs_values("numpy.allclose"), np.array_equal: _needs_values("numpy.array_equal"),
    np.array_equiv: _needs_values("numpy.array_equiv"),
}


def _each(t: Trace, n: int, arrays):
    out = [shapeops.atleast(t, n, a) for a in arrays]
    return out[0] if len(out) == 1 else out


def _qualname(func) -> str:
    module = getattr(func, "__module__", None) or "numpy"
    if module.startswith("numpy._core") or module.startswith("numpy.core") or module == "numpy":
        module = "numpy"
    return f"{module}.{getattr(func, '__name__', repr(func))}"


def dispatch_function(t: Trace, func, args, kwargs):
    with t.calling(_qualname(func)):
        handler = FUNCTIONS.get(func)
        if handler is None:
            if func in UFUNCS:
                return apply_ufunc(t, func, args)
            t.unsupported("this numpy function is not traced")
        return handler(t, *args, **kwargs)


METHODS: dict[str, Callable] = {
    "reshape": shapeops.reshape, "transpose": shapeops.transpose, "swapaxes": shapeops.swapaxes,
    "squeeze": shapeops.squeeze, "flatten": shapeops.ravel, "ravel": shapeops.ravel,
    "astype": lambda t, x, dtype, casting="unsafe": _astype(t, x, dtype, casting=casting),
    "sum": _reduction("sum"), "mean": _reduction("mean"), "max": _reduction("max"), "min": _reduction("min"),
    "prod": _reduction("prod"), "var": _reduction("var"), "std": _reduction("std"),
    "all": _reduction("all"), "any": _reduction("any"),
    "argmax": _arg(Op.ARG_MAX), "argmin": _arg(Op.ARG_MIN), "cumsum": cumsum,
    "clip": lambda t, x, lo=None, hi=None, out=None, **kw: clip(t, x, lo, hi, out=out, **kw),
    "round": _round, "dot": linalg.dot, "copy": lambda t, x, order="C": t.tracer(lift(t, x)),
}


def call_method(t: Trace, name: str, x, args, kwargs):
    with t.calling(f"ndarray.{name}"):
        return METHODS[name](t, x, *args, **kwargs)


def expand_dims_to(t: Trace, x, extra: int):
    return shapeops.expand_dims_to(t, x, extra)


DISPATCH["function"] = dispatch_function
DISPATCH["method"] = call_method
