"""numpy's shape functions traced into views: reshape, transpose and friends, concatenate and
stack, broadcast_to, flips, pads and tiles.

They become Reshape / Transpose / Concat / Expand / Slice nodes, which codegen turns into index
arithmetic inside the consumer kernel — no copies. Shapes may hold symbolic leading dims: a
``-1`` is solved symbolically (``(N, 8) -> (-1,)`` is ``(8*N,)``), and a size the trace cannot
prove (``reshape(3, -1)`` of ``8*N`` elements) specializes the dim instead of guessing.
"""

from __future__ import annotations

import operator
from typing import Sequence

import numpy as np

from ..ir import Op, Value
from ..ir.dims import Dim, SymExpr, prod
from .symbolic import Specialize, hint, symbols_of, unify, unwrap
from .trace import Trace
from .ufuncs import lift, operand_dtype

__all__ = ["norm_axis", "norm_axes", "reshape", "transpose", "concatenate", "expand_dims"]


def norm_axis(t: Trace, axis, ndim: int) -> int:
    try:
        axis = operator.index(axis)
    except TypeError:
        t.unsupported(f"axis must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < max(ndim, 1) or ndim == 0 and axis not in (0, -1):
        t.shape_error(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim if ndim else 0


def norm_axes(t: Trace, axis, ndim: int) -> tuple[int, ...]:
    """A reduction's ``axis`` argument (None, int or tuple) as sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = [norm_axis(t, a, ndim) for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]
    if len(set(axes)) != len(axes):
        t.shape_error(f"repeated axis in {axis}")
    return tuple(sorted(axes))


def _shape_arg(shape) -> list:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return list(shape)


def solve_shape(t: Trace, numel: Dim, shape: Sequence) -> tuple[Dim, ...]:
    """A reshape target with at most one -1, solved (symbolically when it must be)."""
    dims = [unwrap(d) for d in shape]
    unknown = [i for i, d in enumerate(dims) if isinstance(d, int) and d == -1]
    if len(unknown) > 1:
        t.shape_error("can only specify one unknown dimension")
    if any(isinstance(d, int) and d < -1 for d in dims):
        t.shape_error(f"negative dimensions not allowed in {tuple(shape)}")
    if unknown:
        known = prod(d for i, d in enumerate(dims) if i != unknown[0])
        if hint(known, t.env) == 0:
            t.shape_error(f"cannot reshape array of size {numel} into shape {tuple(shape)}")
        solved = numel // known
        if isinstance(solved, SymExpr) and prod([solved, known]) != numel:
            syms = symbols_of((numel, known))
            if syms:
                raise Specialize(static=syms)
        if isinstance(solved, int) and isinstance(numel, int) and isinstance(known, int) and solved * known != numel:
            t.shape_error(f"cannot reshape array of size {numel} into shape {tuple(shape)}")
        dims[unknown[0]] = solved
    return tuple(dims)


def reshape(t: Trace, x, *shape, order="C"):
    if order not in ("C", "A"):
        t.unsupported(f"order={order!r} is not traced (only C order)")
    v = lift(t, x)
    target = solve_shape(t, v.type.numel, _shape_arg(shape))
    return t.tracer(t.reshape(v, target))


def transpose(t: Trace, x, *axes):
    v = lift(t, x)
    axes = _shape_arg(axes) if axes and axes != (None,) else list(reversed(range(v.type.rank)))
    perm = [norm_axis(t, a, v.type.rank) for a in axes]
    if sorted(perm) != list(range(v.type.rank)):
        t.shape_error(f"axes {tuple(axes)} don't match array of dimension {v.type.rank}")
    return t.tracer(t.transpose(v, perm))


def swapaxes(t: Trace, x, axis1, axis2):
    v = lift(t, x)
    perm = list(range(v.type.rank))
    a, b = norm_axis(t, axis1, v.type.rank), norm_axis(t, axis2, v.type.rank)
    perm[a], perm[b] = perm[b], perm[a]
    return t.tracer(t.transpose(v, perm))


def moveaxis(t: Trace, x, source, destination):
    v = lift(t, x)
    r = v.type.rank
    src = [norm_axis(t, a, r) for a in (source if isinstance(source, (tuple, list)) else [source])]
    dst = [norm_axis(t, a, r) for a in (destination if isinstance(destination, (tuple, list)) else [destination])]
    if len(src) != len(dst):
        t.shape_error("source and destination must have the same number of elements")
    order = [n for n in range(r) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return t.tracer(t.transpose(v, order))


def expand_dims(t: Trace, x, axis):
    v = lift(t, x)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    rank = v.type.rank + len(axes)
    where = sorted(norm_axis(t, a, rank) for a in axes)
    if len(set(where)) != len(where):
        t.shape_error(f"repeated axis in {axis}")
    dims = iter(v.shape)
    shape = [1 if i in where else next(dims) for i in range(rank)]
    return t.tracer(t.reshape(v, shape))


def expand_dims_to(t: Trace, x, extra: int):
    """``x`` with ``extra`` trailing unit axes (for ufunc.outer)."""
    v = lift(t, x)
    return t.tracer(t.reshape(v, tuple(v.shape) + (1,) * extra))


def _is_one(t: Trace, d: Dim) -> bool:
    if isinstance(d, int):
        return d == 1
    if hint(d, t.env) == 1:
        raise Specialize(static=symbols_of((d,)))
    return False


def squeeze(t: Trace, x, axis=None):
    v = lift(t, x)
    if axis is None:
        keep = [d for d in v.shape if not _is_one(t, d)]
    else:
        axes = norm_axes(t, axis, v.type.rank)
        for a in axes:
            if not _is_one(t, v.shape[a]):
                t.shape_error("cannot select an axis to squeeze out which has size not equal to one")
        keep = [d for i, d in enumerate(v.shape) if i not in axes]
    return t.tracer(t.reshape(v, keep))


def ravel(t: Trace, x, order="C"):
    return reshape(t, x, -1, order=order)


def _result_dtype(t: Trace, arrays, dtype=None):
    if dtype is not None:
        return np.dtype(dtype)
    return np.result_type(*[operand_dtype(a) for a in arrays])


def concatenate(t: Trace, arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    if out is not None:
        t.unsupported("out= is not traced")
    arrays = list(arrays)
    if not arrays:
        t.shape_error("need at least one array to concatenate")
    dt = _result_dtype(t, arrays, dtype)
    values = [lift(t, a, dt) for a in arrays]
    if axis is None:
        values = [t.reshape(v, (v.type.numel,)) for v in values]
        axis = 0
    rank = values[0].type.rank
    if rank == 0:
        t.shape_error("zero-dimensional arrays cannot be concatenated")
    axis = norm_axis(t, axis, rank)
    shape = list(values[0].shape)
    for v in values[1:]:
        if v.type.rank != rank:
            t.shape_error("all the input arrays must have same number of dimensions")
        for i in range(rank):
            if i != axis:
                d = unify(shape[i], v.shape[i], t.env)
                if d is None:
                    t.shape_error(f"all the input array dimensions except for the concatenation axis must match "
                                  f"exactly, but along dimension {i} they are {shape[i]} and {v.shape[i]}")
    if len(values) == 1:
        return t.tracer(values[0])
    return t.tracer(t.apply(Op.CONCAT, values, axis=axis))


def stack(t: Trace, arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    arrays = list(arrays)
    if not arrays:
        t.shape_error("need at least one array to stack")
    rank = np.ndim(arrays[0]) if not hasattr(arrays[0], "ndim") else arrays[0].ndim
    axis = norm_axis(t, axis, rank + 1)
    return concatenate(t, [expand_dims(t, a, axis) for a in arrays], axis=axis, out=out, dtype=dtype)


def atleast(t: Trace, n: int, x):
    v = lift(t, x)
    shape = tuple(v.shape)
    if len(shape) >= n:
        return t.tracer(v)
    if n == 3 and len(shape) == 2:
        return t.tracer(t.reshape(v, shape + (1,)))
    if n == 3 and len(shape) == 1:
        return t.tracer(t.reshape(v, (1,) + shape + (1,)))
    return t.tracer(t.reshape(v, (1,) * (n - len(shape)) + shape))


def vstack(t: Trace, tup, dtype=None, casting="same_kind"):
    return concatenate(t, [atleast(t, 2, a) for a in tup], axis=0, dtype=dtype)


def hstack(t: Trace, tup, dtype=None, casting="same_kind"):
    arrs = [atleast(t, 1, a) for a in tup]
    return concatenate(t, arrs, axis=0 if arrs[0].ndim == 1 else 1, dtype=dtype)


def broadcast_to(t: Trace, array, shape, subok=False):
    v = lift(t, array)
    shape = shape if isinstance(shape, (tuple, list)) else (shape,)
    return t.tracer(t.broadcast_to(v, [unwrap(d) for d in shape]))


def broadcast_arrays(t: Trace, *args, subok=False):
    values = [lift(t, a) for a in args]
    shape = t.broadcast_shape(*(v.shape for v in values))
    return tuple(t.tracer(t.broadcast_to(v, shape)) for v in values)


def slice_axes(t: Trace, v: Value, bounds: dict[int, tuple]) -> Value:
    """Slice ``v`` on some axes: ``bounds[axis] = (start, end, step)`` already resolved."""
    if not bounds:
        return v
    starts, ends, steps = [], [], []
    for i, d in enumerate(v.shape):
        s, e, st = bounds.get(i, (0, d, 1))
        starts.append(s)
        ends.append(e)
        steps.append(st)
    return t.apply(Op.SLICE, [v], starts=tuple(starts), ends=tuple(ends), steps=tuple(steps))


def flip(t: Trace, m, axis=None):
    v = lift(t, m)
    axes = norm_axes(t, axis, v.type.rank)
    bounds = {}
    for a in axes:
        d = v.shape[a]
        if not isinstance(d, int):
            raise Specialize(static=symbols_of((d,)))
        bounds[a] = (d - 1, -1, -1)
    return t.tracer(slice_axes(t, v, bounds))


def tile(t: Trace, A, reps):
    v = lift(t, A)
    reps = list(reps) if isinstance(reps, (tuple, list)) else [reps]
    reps = [operator.index(r) for r in reps]
    if len(reps) < v.type.rank:
        reps = [1] * (v.type.rank - len(reps)) + reps
    if len(reps) > v.type.rank:
        v = t.reshape(v, (1,) * (len(reps) - v.type.rank) + tuple(v.shape))
    if all(r == 1 for r in reps):
        return t.tracer(v)
    return t.tracer(t.apply(Op.TILE, [v], repeats=tuple(reps)))


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap"}


def pad(t: Trace, array, pad_width, mode="constant", **kwargs):
    v = lift(t, array)
    if mode not in _PAD_MODES:
        t.unsupported(f"mode={mode!r} is not traced (constant, reflect, edge, wrap are)")
    value = kwargs.pop("constant_values", 0)
    if kwargs:
        t.unsupported(f"keyword(s) {', '.join(sorted(kwargs))} are not traced")
    if not np.isscalar(value):
        t.unsupported("per-axis constant_values are not traced; pass one scalar")
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (v.type.rank, 2))
    pads = tuple(int(w) for w in widths[:, 0]) + tuple(int(w) for w in widths[:, 1])
    return t.tracer(t.apply(Op.PAD, [v], pads=pads, mode=_PAD_MODES[mode], value=float(value)))


def trilu(upper: bool):
    def fn(t: Trace, m, k=0):
        v = lift(t, m)
        if v.type.rank < 2:
            t.shape_error("input must be at least 2-d")
        return t.tracer(t.apply(Op.TRILU, [v], upper=int(upper), k=int(k)))
    return fn
