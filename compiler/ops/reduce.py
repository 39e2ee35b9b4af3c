"""Reductions over a set of axes (ReduceSum ... ReduceLogSumExp) and ArgMax / ArgMin.

Attributes are canonical: ``axes`` is sorted, non-negative and non-empty (the frontend turns
"no axes" into every axis, or into an Identity when ``noop_with_empty_axes`` says so), so
codegen reads the reduced axes straight off the node. Reducing an empty axis gives the
reduction's identity (0 for sums, 1 for products, -inf for max and log-sums, +inf for min).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import DType, Op, TensorType
from .registry import Category, register_op
from .shapes import normalize_axis
from cortado.runtime.errors import ShapeError


@dataclasses.dataclass(frozen=True)
class ReduceAttrs:
    axes: tuple[int, ...] = ()
    keepdims: int = 1


def reduced_shape(shape, axes, keepdims) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _check_axes(op: str, a: ReduceAttrs, x: TensorType):
    if not a.axes and x.rank:
        raise ShapeError(f"{op} axes must be resolved (non-empty) by the frontend")
    if list(a.axes) != sorted(set(a.axes)) or any(not 0 <= ax < max(x.rank, 1) for ax in a.axes):
        raise ShapeError(f"{op} axes {a.axes} must be sorted, unique and in [0, {x.rank})")


def _limits(dtype: np.dtype):
    if DType.from_numpy(dtype).is_float:     # bfloat16 (numpy kind "V") too
        return -np.inf, np.inf
    if dtype.kind == "b":
        return False, True
    info = np.iinfo(dtype)
    return info.min, info.max


def _float(x):
    return x.astype(np.float64) if x.dtype.kind == "f" else x


def _sum(x, axes, keep):
    return np.sum(_float(x), axis=axes, keepdims=keep)


def _mean(x, axes, keep):
    n = int(np.prod([x.shape[a] for a in axes]))
    if x.dtype.kind == "f":       # over an empty axis: 0, as onnxruntime gives (not numpy's NaN)
        return np.sum(x.astype(np.float64), axis=axes, keepdims=keep) / max(n, 1)
    s = np.sum(x.astype(np.int64), axis=axes, keepdims=keep)
    return np.trunc(s / max(n, 1)).astype(x.dtype)


def _max(x, axes, keep):
    return np.max(x, axis=axes, keepdims=keep, initial=_limits(x.dtype)[0])


def _min(x, axes, keep):
    return np.min(x, axis=axes, keepdims=keep, initial=_limits(x.dtype)[1])


def _logsumexp(x, axes, keep):
    x64 = x.astype(np.float64)
    if x64.size == 0:
        return np.log(np.sum(np.exp(x64), axis=axes, keepdims=keep))
    m = np.max(x64, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x64 - m), axis=axes, keepdims=True)) + m
    return out if keep else np.squeeze(out, axis=axes)


REFERENCES = {
    Op.REDUCE_SUM: _sum,
    Op.REDUCE_MEAN: _mean,
    Op.REDUCE_MAX: _max,
    Op.REDUCE_MIN: _min,
    Op.REDUCE_PROD: lambda x, ax, k: np.prod(_float(x), axis=ax, keepdims=k),
    Op.REDUCE_L1: lambda x, ax, k: np.sum(np.abs(_float(x)), axis=ax, keepdims=k),
    Op.REDUCE_L2: lambda x, ax, k: np.sqrt(np.sum(np.square(_float(x)), axis=ax, keepdims=k)),
    Op.REDUCE_LOG_SUM: lambda x, ax, k: np.log(np.sum(x.astype(np.float64), axis=ax, keepdims=k)),
    Op.REDUCE_LOG_SUM_EXP: _logsumexp,
    Op.REDUCE_SUM_SQUARE: lambda x, ax, k: np.sum(np.square(_float(x)), axis=ax, keepdims=k),
}
FLOAT_ONLY = {Op.REDUCE_LOG_SUM, Op.REDUCE_LOG_SUM_EXP, Op.REDUCE_L2}


def _define(op: Op):
    ref = REFERENCES[op]

    def infer(a, x):
        _check_axes(op.value, a, x)
        if op in FLOAT_ONLY and not x.dtype.is_float:
            raise ShapeError(f"{op.value} needs a floating-point input, got {x.dtype}")
        if x.dtype is DType.BOOL and op not in (Op.REDUCE_MAX, Op.REDUCE_MIN):
            raise ShapeError(f"{op.value} does not take bool inputs")
        return [TensorType(reduced_shape(x.shape, a.axes, a.keepdims), x.dtype)]

    def reference(a, x):
        with np.errstate(all="ignore"):
            return np.asarray(ref(x, tuple(a.axes), bool(a.keepdims))).astype(x.dtype)

    cls = type(op.value, (), {"Attrs": ReduceAttrs, "infer": staticmethod(infer),
                              "reference": staticmethod(reference),
                              "__doc__": f"{op.value} over ``axes`` (keepdims keeps them as size 1)."})
    register_op(op, Category.REDUCTION, inputs=("data",), outputs=("reduced",))(cls)


for _op in REFERENCES:
    _define(_op)


@dataclasses.dataclass(frozen=True)
class ArgAttrs:
    axis: int = 0
    keepdims: int = 1
    select_last_index: int = 0


def _arg_infer(op):
    def infer(a, x):
        if x.rank == 0:
            raise ShapeError(f"{op} needs rank >= 1")
        axis = normalize_axis(a.axis, x.rank)
        if axis != a.axis:
            raise ShapeError(f"{op} axis must be resolved to {axis} by the frontend")
        if x.dtype is DType.BOOL:
            raise ShapeError(f"{op} does not take bool inputs")
        return [TensorType(reduced_shape(x.shape, (axis,), a.keepdims), DType.INT64)]
    return infer


def _arg_reference(pick):
    def reference(a, x):
        if a.select_last_index:
            flipped = np.flip(x, axis=a.axis)
            idx = x.shape[a.axis] - 1 - pick(flipped, axis=a.axis)
        else:
            idx = pick(x, axis=a.axis)
        idx = idx.astype(np.int64)
        return np.expand_dims(idx, a.axis) if a.keepdims else idx
    return reference


@register_op(Op.ARG_MAX, Category.REDUCTION, inputs=("data",), outputs=("reduced",))
class ArgMax:
    """Index of the largest element along ``axis`` (the first one, or the last with
    ``select_last_index``), as int64."""

    Attrs = ArgAttrs
    infer = staticmethod(_arg_infer("ArgMax"))
    reference = staticmethod(_arg_reference(np.argmax))


@register_op(Op.ARG_MIN, Category.REDUCTION, inputs=("data",), outputs=("reduced",))
class ArgMin:
    """Index of the smallest element along ``axis`` (first, or last with ``select_last_index``)."""

    Attrs = ArgAttrs
    infer = staticmethod(_arg_infer("ArgMin"))
    reference = staticmethod(_arg_reference(np.argmin))
