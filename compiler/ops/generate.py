"""Ops that make tensors from attributes alone."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import DType, Op, TensorType
from ..ir.dims import Dim
from .registry import Category, register_op


@dataclasses.dataclass(frozen=True)
class ConstantOfShapeAttrs:
    shape: tuple[Dim, ...] = ()
    value: float = 0.0
    dtype: DType = DType.FLOAT32


@register_op(Op.CONSTANT_OF_SHAPE, Category.ELEMENTWISE, inputs=())
class ConstantOfShape:
    """A tensor of the given shape filled with one value (shape resolved by the frontend)."""

    Attrs = ConstantOfShapeAttrs

    def infer(a):
        return [TensorType(a.shape, a.dtype)]

    def reference(a):
        return np.full(a.shape, a.value, dtype=DType(a.dtype).numpy)
