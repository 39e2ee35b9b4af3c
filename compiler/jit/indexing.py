"""``x[...]`` traced: integers, slices, ``None``, ``...``, and one integer-array index.

Basic indexing becomes one Slice (bounds resolved the way Python's ``slice.indices`` does)
and one Reshape that drops integer-indexed axes and inserts ``None`` axes; an integer array
(a traced int array or a numpy constant) becomes a Gather. Boolean masks have a
data-dependent shape and are refused with a hint to use ``np.where``. On a symbolic leading
dim only the full slice ``:`` keeps the dim symbolic; any other bound specializes it, since
whether ``x[5]`` exists depends on the size.
"""

from __future__ import annotations

import operator

import numpy as np

from ..ir import DType, Op
from .shapeops import norm_axis, slice_axes
from .symbolic import Specialize, SymDim, symbols_of
from .trace import Trace
from .tracer import DISPATCH
from .ufuncs import lift

__all__ = ["getitem", "take"]


def _is_int(e) -> bool:
    if isinstance(e, (bool, np.bool_, np.ndarray)) or hasattr(e, "_trace"):
        return False
    if isinstance(e, SymDim):
        return True
    try:
        operator.index(e)
        return True
    except TypeError:
        return False


def _is_array(e) -> bool:
    return hasattr(e, "_trace") or isinstance(e, (np.ndarray, list))


def _expand(t: Trace, key, rank: int) -> list:
    key = list(key) if isinstance(key, tuple) else [key]
    n_ellipsis = sum(1 for e in key if e is Ellipsis)
    if n_ellipsis > 1:
        t.shape_error("an index can only have a single ellipsis ('...')")
    consumed = sum(1 for e in key if e is not None and e is not Ellipsis)
    if consumed > rank:
        t.shape_error(f"too many indices for array: array is {rank}-dimensional, but {consumed} were indexed")
    fill = [slice(None)] * (rank - consumed)
    if n_ellipsis:
        i = next(i for i, e in enumerate(key) if e is Ellipsis)
        return key[:i] + fill + key[i + 1:]
    return key + fill


def _bounds(t: Trace, d, s: slice):
    """(start, end, step) of a slice on a dim of size d; None when it takes the whole axis."""
    if s.start is None and s.stop is None and (s.step is None or s.step == 1):
        return None
    if not isinstance(d, int):
        raise Specialize(static=symbols_of((d,)))
    start, stop, step = s.indices(d)
    if len(range(start, stop, step)) == 0:
        t.shape_error(f"the slice {s} of an axis of size {d} is empty; Cortado needs non-empty arrays")
    if (start, stop, step) == (0, d, 1):
        return None
    return start, stop, step


def getitem(t: Trace, x, key):
    v = lift(t, x)
    entries = _expand(t, key, v.type.rank)
    bounds, plan, arrays, ints = {}, [], [], []
    axis = 0
    for pos, e in enumerate(entries):
        if e is None:
            plan.append(("new", None))
        elif isinstance(e, slice):
            b = _bounds(t, v.shape[axis], e)
            if b is not None:
                bounds[axis] = b
            plan.append(("keep", axis))
            axis += 1
        elif _is_int(e):
            d = v.shape[axis]
            if not isinstance(d, int):
                raise Specialize(static=symbols_of((d,)))
            i = operator.index(e)
            if not -d <= i < d:
                t.shape_error(f"index {i} is out of bounds for axis {axis} with size {d}")
            i %= d
            bounds[axis] = (i, i + 1, 1)
            ints.append(pos)
            axis += 1
        elif _is_array(e):
            arr = e if hasattr(e, "_trace") else np.asarray(e)
            if np.dtype(arr.dtype) == np.bool_:
                t.unsupported("boolean mask indexing has a data-dependent shape",
                              hint="use np.where(mask, x, 0) or a reduction with the mask")
            if np.dtype(arr.dtype).kind not in "iu":
                t.shape_error("arrays used as indices must be of integer type")
            arrays.append((pos, axis, arr))
            plan.append(("gather", axis))
            axis += 1
        else:
            t.unsupported(f"indexing with {type(e).__name__} is not traced")
    if len(arrays) > 1:
        t.unsupported("more than one array index is not traced", hint="index one axis at a time")
    if arrays and ints and max(ints + [arrays[0][0]]) - min(ints + [arrays[0][0]]) != len(ints):
        t.unsupported("integer and array indices that are not next to each other are not traced "
                      "(numpy moves the result axes to the front)")
    y = slice_axes(t, v, bounds)
    index_shape = ()
    if arrays:
        _, ax, arr = arrays[0]
        idx = lift(t, arr)
        if idx.dtype not in (DType.INT32, DType.INT64):
            idx = t.cast(idx, np.int64)
        if idx.is_constant:
            size = y.shape[ax]
            if isinstance(size, int) and (np.any(idx.const >= size) or np.any(idx.const < -size)):
                t.shape_error(f"an index is out of bounds for axis {ax} with size {size}")
        y = t.apply(Op.GATHER, [y, idx], axis=ax)
        index_shape = tuple(idx.shape)
    shape = []
    for kind, ax in plan:
        if kind == "new":
            shape.append(1)
        elif kind == "keep":
            shape.append(y.shape[ax + (len(index_shape) - 1 if arrays and ax > arrays[0][1] else 0)])
        else:
            shape.extend(index_shape)
    return t.tracer(t.reshape(y, shape))


def take(t: Trace, a, indices, axis=None, out=None, mode="raise"):
    if out is not None or mode != "raise":
        t.unsupported("out= and mode= of take are not traced")
    v = lift(t, a)
    if axis is None:
        v = t.reshape(v, (v.type.numel,))
        axis = 0
    axis = norm_axis(t, axis, v.type.rank)
    idx = lift(t, indices)
    if idx.dtype not in (DType.INT32, DType.INT64):
        if idx.dtype.is_float or idx.dtype is DType.BOOL:
            t.shape_error("take indices must be integers")
        idx = t.cast(idx, np.int64)
    return t.tracer(t.apply(Op.GATHER, [v, idx], axis=axis))


DISPATCH["getitem"] = getitem
