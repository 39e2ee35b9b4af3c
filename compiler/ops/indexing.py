"""Data-dependent indexing: Gather, GatherElements, GatherND, OneHot (reads at indices) and
ScatterElements, ScatterND (writes at indices).

Indices may be negative (counted from the end of their axis), as in ONNX. Out-of-range
indices are an error in ONNX; kernels guard their loads so a bad index reads 0 instead of
faulting, and the reference raises. Scatters apply updates in row-major order, so with
duplicate indices the last write wins (``reduction="none"``) and reductions see every update.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import DType, Op, TensorType
from .registry import Category, register_op
from .shapes import normalize_axis
from cortado.runtime.errors import ShapeError


def _int_indices(op: str, t: TensorType):
    if t.dtype not in (DType.INT32, DType.INT64):
        raise ShapeError(f"{op} indices must be int32 or int64, got {t.dtype}")


def _wrap(idx: np.ndarray, size: int, op: str) -> np.ndarray:
    idx = idx.astype(np.int64)
    if np.any((idx < -size) | (idx >= size)):
        raise IndexError(f"{op}: an index is out of range for an axis of {size}")
    return np.where(idx < 0, idx + size, idx)


@dataclasses.dataclass(frozen=True)
class AxisAttrs:
    axis: int = 0     # resolved: non-negative


@register_op(Op.GATHER, Category.VIEW, inputs=("data", "indices"))
class Gather:
    """out[i.., j.., k..] = data[i.., indices[j..], k..] along ``axis``."""

    Attrs = AxisAttrs

    def infer(a, x, idx):
        _int_indices("Gather", idx)
        if not 0 <= a.axis < x.rank:
            raise ShapeError(f"Gather axis {a.axis} must be resolved into [0, {x.rank})")
        return [TensorType(tuple(x.shape[:a.axis]) + tuple(idx.shape) + tuple(x.shape[a.axis + 1:]), x.dtype)]

    def reference(a, x, idx):
        return np.take(x, _wrap(idx, x.shape[a.axis], "Gather"), axis=a.axis)


@register_op(Op.GATHER_ELEMENTS, Category.VIEW, inputs=("data", "indices"))
class GatherElements:
    """out[p] = data[p with axis coordinate replaced by indices[p]]; out has indices' shape."""

    Attrs = AxisAttrs

    def infer(a, x, idx):
        _int_indices("GatherElements", idx)
        if idx.rank != x.rank or not 0 <= a.axis < x.rank:
            raise ShapeError(f"GatherElements needs indices of data's rank {x.rank} and a resolved axis")
        return [TensorType(idx.shape, x.dtype)]

    def reference(a, x, idx):
        # off the axis, indices may be shorter than data (ONNX reads data[..., j, ...] for each
        # j of indices): crop data to them, as take_along_axis wants equal lengths
        crop = tuple(slice(None) if d == a.axis else slice(0, n) for d, n in enumerate(idx.shape))
        return np.take_along_axis(x[crop], _wrap(idx, x.shape[a.axis], "GatherElements"), axis=a.axis)


@dataclasses.dataclass(frozen=True)
class GatherNDAttrs:
    batch_dims: int = 0


def _nd_check(op, a, x, idx):
    _int_indices(op, idx)
    b = a.batch_dims
    k = idx.shape[-1] if idx.rank else None
    if idx.rank < 1 or not isinstance(k, int) or b < 0 or b >= min(x.rank, idx.rank) or k > x.rank - b:
        raise ShapeError(f"{op}: indices {idx.shape} do not index data {x.shape} with batch_dims={b}")
    if tuple(x.shape[:b]) != tuple(idx.shape[:b]):
        raise ShapeError(f"{op}: batch dims of data {x.shape} and indices {idx.shape} differ")
    return b, k


@register_op(Op.GATHER_ND, Category.VIEW, inputs=("data", "indices"))
class GatherND:
    """Each index tuple (the last axis of ``indices``) selects a slice of ``data`` after the
    first ``batch_dims`` axes, which data and indices share."""

    Attrs = GatherNDAttrs

    def infer(a, x, idx):
        b, k = _nd_check("GatherND", a, x, idx)
        return [TensorType(tuple(idx.shape[:-1]) + tuple(x.shape[b + k:]), x.dtype)]

    def reference(a, x, idx):
        b = a.batch_dims
        k = idx.shape[-1]
        out_shape = idx.shape[:-1] + x.shape[b + k:]
        nb = int(np.prod(x.shape[:b]))
        xb = x.reshape((nb,) + x.shape[b:])
        ib = idx.reshape(nb, -1, k)
        out = np.empty((nb, ib.shape[1]) + x.shape[b + k:], dtype=x.dtype)
        for i in range(nb):
            for j in range(ib.shape[1]):
                t = tuple(int(_wrap(np.asarray(ib[i, j, m]), x.shape[b + m], "GatherND")) for m in range(k))
                out[i, j] = xb[i][t]
        return out.reshape(out_shape)


@dataclasses.dataclass(frozen=True)
class ScatterAttrs:
    axis: int = 0
    reduction: str = "none"     # none | add | mul | max | min


_REDUCE = {"none": lambda old, new: new, "add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _check_reduction(op, a):
    if a.reduction not in _REDUCE:
        raise ShapeError(f"{op} reduction {a.reduction!r} is not none, add, mul, max or min")


@register_op(Op.SCATTER_ELEMENTS, Category.SCATTER, inputs=("data", "indices", "updates"))
class ScatterElements:
    """A copy of data with out[p with axis coordinate indices[q]] (op)= updates[q] for every
    position q of updates (which has indices' shape)."""

    Attrs = ScatterAttrs

    def infer(a, x, idx, upd):
        _int_indices("ScatterElements", idx)
        _check_reduction("ScatterElements", a)
        if idx.rank != x.rank or tuple(upd.shape) != tuple(idx.shape) or upd.dtype != x.dtype \
                or not 0 <= a.axis < x.rank:
            raise ShapeError(f"ScatterElements: data {x}, indices {idx}, updates {upd} do not fit")
        return [x]

    def reference(a, x, idx, upd):
        out = x.copy()
        idx = _wrap(idx, x.shape[a.axis], "ScatterElements")
        f = _REDUCE[a.reduction]
        for q in np.ndindex(*idx.shape):
            p = list(q)
            p[a.axis] = idx[q]
            p = tuple(p)
            out[p] = f(out[p], upd[q])
        return out


@register_op(Op.SCATTER_ND, Category.SCATTER, inputs=("data", "indices", "updates"))
class ScatterND:
    """A copy of data with the slice at each index tuple of ``indices`` (op)= the matching
    slice of ``updates``."""

    Attrs = ScatterAttrs

    def infer(a, x, idx, upd):
        _int_indices("ScatterND", idx)
        _check_reduction("ScatterND", a)
        k = idx.shape[-1] if idx.rank else None
        if not isinstance(k, int) or k > x.rank or upd.dtype != x.dtype \
                or tuple(upd.shape) != tuple(idx.shape[:-1]) + tuple(x.shape[k:]):
            raise ShapeError(f"ScatterND: data {x}, indices {idx}, updates {upd} do not fit")
        return [x]

    def reference(a, x, idx, upd):
        out = x.copy()
        k = idx.shape[-1]
        f = _REDUCE[a.reduction]
        for q in np.ndindex(*idx.shape[:-1]):
            t = tuple(int(_wrap(np.asarray(idx[q][m]), x.shape[m], "ScatterND")) for m in range(k))
            out[t] = f(out[t], upd[q])
        return out


@dataclasses.dataclass(frozen=True)
class OneHotAttrs:
    axis: int = -1      # resolved: the new axis's position in the output
    depth: int = 1


@register_op(Op.ONE_HOT, Category.VIEW, inputs=("indices", "values"))
class OneHot:
    """values[1] where the new axis's coordinate equals the index (negative indices count
    from ``depth``), values[0] elsewhere; indices outside [-depth, depth) match nothing."""

    Attrs = OneHotAttrs

    def infer(a, idx, values):
        if idx.dtype is DType.BOOL or values.numel != 2 or values.rank != 1:
            raise ShapeError(f"OneHot needs numeric indices and two values, got {idx} and {values}")
        if not 0 <= a.axis <= idx.rank or a.depth < 1:
            raise ShapeError(f"OneHot axis {a.axis} / depth {a.depth} must be resolved")
        shape = list(idx.shape)
        shape.insert(a.axis, a.depth)
        return [TensorType(tuple(shape), values.dtype)]

    def reference(a, idx, values):
        i = np.trunc(idx.astype(np.float64)).astype(np.int64) if idx.dtype.kind == "f" else idx.astype(np.int64)
        i = np.where(i < 0, i + a.depth, i)
        hot = np.expand_dims(i, a.axis) == np.arange(a.depth).reshape(
            (1,) * a.axis + (a.depth,) + (1,) * (idx.ndim - a.axis))
        return np.where(hot, values[1], values[0]).astype(values.dtype)


@dataclasses.dataclass(frozen=True)
class TensorScatterAttrs:
    axis: int = -2          # resolved: the sequence axis, >= 1
    mode: str = "linear"    # linear | circular


@register_op(Op.TENSOR_SCATTER, Category.VIEW, inputs=("past_cache", "update", "write_indices?"))
class TensorScatter:
    """A KV-cache write: the cache with ``update`` written along the sequence axis starting at
    each batch entry's write index (wrapping around with ``circular``). Computed per output
    element — it reads the update where one lands and the cache elsewhere — so it is a view."""

    Attrs = TensorScatterAttrs

    def infer(a, cache, upd, idx=None):
        if not 1 <= a.axis < cache.rank or a.mode not in ("linear", "circular") or upd.rank != cache.rank \
                or upd.dtype != cache.dtype or any(u != c for k, (u, c) in enumerate(zip(upd.shape, cache.shape))
                                                  if k != a.axis):
            raise ShapeError(f"TensorScatter: cache {cache}, update {upd}, axis {a.axis}, mode {a.mode} do not fit")
        if idx is not None:
            _int_indices("TensorScatter", idx)
            if tuple(idx.shape) != (cache.shape[0],):
                raise ShapeError(f"TensorScatter write_indices must have shape ({cache.shape[0]},), got {idx.shape}")
        return [cache]

    def reference(a, cache, upd, idx=None):
        out = cache.copy()
        n = cache.shape[a.axis]
        for prefix in np.ndindex(*cache.shape[:a.axis]):
            start = 0 if idx is None else int(idx[prefix[0]])
            for s in range(upd.shape[a.axis]):
                p = start + s
                if a.mode == "circular":
                    p %= n
                out[prefix + (p,)] = upd[prefix + (s,)]
        return out
