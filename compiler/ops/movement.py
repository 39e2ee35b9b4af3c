"""Data movement that is pure index arithmetic: Reshape, Transpose, Concat.

Codegen turns these into index math inside the consumer; a Reshape of a contiguous buffer is
free (the runtime aliases the buffer).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import Op, TensorType
from ..ir.dims import Dim, prod
from .registry import Category, register_op
from .shapes import normalize_axis, same_dtype
from cortado.runtime.errors import ShapeError


@dataclasses.dataclass(frozen=True)
class ReshapeAttrs:
    shape: tuple[Dim, ...] = ()   # fully resolved: no -1 and no 0 placeholders


@register_op(Op.RESHAPE, Category.VIEW, inputs=("data",))
class Reshape:
    """Same elements in row-major order, new shape. Flatten, Squeeze and Unsqueeze import as this."""

    Attrs = ReshapeAttrs

    def infer(a, x):
        if any(isinstance(d, int) and d < 0 for d in a.shape):
            raise ShapeError(f"Reshape target {a.shape} has a negative dim; the frontend resolves -1")
        if prod(a.shape) != x.numel:
            raise ShapeError(f"cannot reshape {x.shape} ({x.numel} elements) to {a.shape} ({prod(a.shape)} elements)")
        return [TensorType(a.shape, x.dtype)]

    def reference(a, x):
        return x.reshape(a.shape)


@dataclasses.dataclass(frozen=True)
class TransposeAttrs:
    perm: tuple[int, ...] = ()    # resolved: never empty for rank > 0


@register_op(Op.TRANSPOSE, Category.VIEW, inputs=("data",))
class Transpose:
    """Permute axes: output axis i is input axis perm[i]."""

    Attrs = TransposeAttrs

    def infer(a, x):
        if sorted(a.perm) != list(range(x.rank)):
            raise ShapeError(f"Transpose perm {a.perm} is not a permutation of {x.rank} axes")
        return [TensorType(tuple(x.shape[p] for p in a.perm), x.dtype)]

    def reference(a, x):
        return np.transpose(x, a.perm)


@dataclasses.dataclass(frozen=True)
class ConcatAttrs:
    axis: int = 0


@register_op(Op.CONCAT, Category.VIEW, inputs=("inputs*",))
class Concat:
    """Join tensors along one axis; every other dim must match."""

    Attrs = ConcatAttrs

    def infer(a, *xs):
        if not xs:
            raise ShapeError("Concat needs at least one input")
        dtype = same_dtype("Concat", *xs)
        rank = xs[0].rank
        axis = normalize_axis(a.axis, rank)
        total: Dim = 0
        for x in xs:
            if x.rank != rank or any(x.shape[i] != xs[0].shape[i] for i in range(rank) if i != axis):
                raise ShapeError(f"Concat inputs {[tuple(map(str, t.shape)) for t in xs]} differ off axis {axis}")
            total = total + x.shape[axis]
        shape = list(xs[0].shape)
        shape[axis] = total
        return [TensorType(tuple(shape), dtype)]

    def reference(a, *xs):
        return np.concatenate(xs, axis=a.axis)
