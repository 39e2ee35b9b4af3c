"""Row-wise normalizations: statistics over some axes, then an output of the input's shape."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import Op, TensorType
from .registry import Category, register_op
from .shapes import normalize_axis
from runtime.errors import ShapeError


@dataclasses.dataclass(frozen=True)
class AxisAttrs:
    axis: int = -1


def _float_input(op: str, x: TensorType):
    if not x.dtype.is_float:
        raise ShapeError(f"{op} needs a floating-point input, got {x.dtype}")
    if x.rank == 0:
        raise ShapeError(f"{op} needs rank >= 1")


def _softmax64(x: np.ndarray, axis: int) -> np.ndarray:
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@register_op(Op.SOFTMAX, Category.NORMALIZATION, inputs=("X",))
class Softmax:
    """exp(x - max) / sum(exp(x - max)) along one axis (opset-13 semantics; older opsets'
    flatten-to-2-D form is rewritten by the frontend into Reshape + Softmax + Reshape)."""

    Attrs = AxisAttrs

    def infer(a, x):
        _float_input("Softmax", x)
        normalize_axis(a.axis, x.rank)
        return [x]

    def reference(a, x):
        return _softmax64(x, normalize_axis(a.axis, x.ndim)).astype(x.dtype)


@register_op(Op.LOG_SOFTMAX, Category.NORMALIZATION, inputs=("X",))
class LogSoftmax:
    """x - max - log(sum(exp(x - max))) along one axis."""

    Attrs = AxisAttrs

    def infer(a, x):
        _float_input("LogSoftmax", x)
        normalize_axis(a.axis, x.rank)
        return [x]

    def reference(a, x):
        axis = normalize_axis(a.axis, x.ndim)
        x64 = x.astype(np.float64)
        s = x64 - x64.max(axis=axis, keepdims=True)
        return (s - np.log(np.exp(s).sum(axis=axis, keepdims=True))).astype(x.dtype)
