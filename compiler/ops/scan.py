"""Ops that are sequential along one axis: CumSum and TopK; and the shape queries Shape and
Size, whose values come from the input's (possibly symbolic) shape alone."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import DType, Op, TensorType
from .registry import Category, register_op
from cortado.runtime.errors import ShapeError


@dataclasses.dataclass(frozen=True)
class CumSumAttrs:
    axis: int = 0        # resolved: non-negative
    exclusive: int = 0
    reverse: int = 0


@register_op(Op.CUM_SUM, Category.SCAN, inputs=("x",))
class CumSum:
    """Running sums along ``axis`` (exclusive: without the element itself; reverse: from the end)."""

    Attrs = CumSumAttrs

    def infer(a, x):
        if not 0 <= a.axis < max(x.rank, 1) or x.dtype is DType.BOOL:
            raise ShapeError(f"CumSum needs a numeric input and a resolved axis, got {x} axis {a.axis}")
        return [x]

    def reference(a, x):
        acc = x.astype(np.float64) if x.dtype.kind == "f" else x
        y = np.flip(acc, a.axis) if a.reverse else acc
        s = np.cumsum(y, axis=a.axis)
        if a.exclusive:
            s = s - y
        if a.reverse:
            s = np.flip(s, a.axis)
        return s.astype(x.dtype)


@register_op(Op.CUM_PROD, Category.SCAN, inputs=("x",))
class CumProd:
    """Running products along ``axis`` (exclusive: without the element itself; reverse: from the end)."""

    Attrs = CumSumAttrs
    infer = CumSum.infer

    def reference(a, x):
        acc = x.astype(np.float64) if x.dtype.kind == "f" else x
        y = np.flip(acc, a.axis) if a.reverse else acc
        if a.exclusive:
            ones = np.ones_like(np.take(y, [0], axis=a.axis))
            y = np.concatenate([ones, np.delete(y, -1, axis=a.axis)], axis=a.axis)
        s = np.cumprod(y, axis=a.axis)
        if a.reverse:
            s = np.flip(s, a.axis)
        return s.astype(x.dtype)


@dataclasses.dataclass(frozen=True)
class TopKAttrs:
    k: int = 1
    axis: int = -1       # resolved: non-negative
    largest: int = 1
    sorted: int = 1


@register_op(Op.TOP_K, Category.SCAN, inputs=("X",), outputs=("Values", "Indices"))
class TopK:
    """The k largest (or smallest) elements along ``axis``, in order, with their int64 indices;
    equal values keep the lower index first."""

    Attrs = TopKAttrs

    def infer(a, x):
        if not 0 <= a.axis < x.rank:
            raise ShapeError(f"TopK axis {a.axis} must be resolved into [0, {x.rank})")
        n = x.shape[a.axis]
        if a.k < 0 or (isinstance(n, int) and a.k > n):
            raise ShapeError(f"TopK k={a.k} is out of range for an axis of {n}")
        shape = list(x.shape)
        shape[a.axis] = a.k
        return [TensorType(tuple(shape), x.dtype), TensorType(tuple(shape), DType.INT64)]

    def reference(a, x):
        key = -x if a.largest else x
        if x.dtype.kind == "u" and a.largest:
            key = -(x.astype(np.float64))
        order = np.argsort(key, axis=a.axis, kind="stable")
        idx = np.take(order, np.arange(a.k), axis=a.axis)
        return np.take_along_axis(x, idx, axis=a.axis), idx.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class ShapeAttrs:
    start: int = 0       # resolved: clamped into [0, rank]
    end: int = 0


@register_op(Op.SHAPE, Category.SHAPE, inputs=("data",), outputs=("shape",))
class Shape:
    """The input's dims start..end as int64 (only symbolic shapes reach a kernel; static ones
    are folded into constants by the frontend)."""

    Attrs = ShapeAttrs

    def infer(a, x):
        if not 0 <= a.start <= x.rank or not 0 <= a.end <= x.rank:
            raise ShapeError(f"Shape start/end {a.start}/{a.end} must be resolved into [0, {x.rank}]")
        return [TensorType((max(a.end - a.start, 0),), DType.INT64)]

    def reference(a, x):
        return np.array(x.shape[a.start:a.end], dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class NoAttrs:
    pass


@register_op(Op.SIZE, Category.SHAPE, inputs=("data",), outputs=("size",))
class Size:
    """The input's element count as an int64 scalar."""

    Attrs = NoAttrs

    def infer(a, x):
        return [TensorType((), DType.INT64)]

    def reference(a, x):
        return np.array(x.size, dtype=np.int64)
