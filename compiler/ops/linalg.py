"""Contractions: MatMul (numpy semantics, batched with broadcasting) and Gemm."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import Op, TensorType
from .registry import Category, NoAttrs, register_op
from .shapes import broadcast_shapes, same_dtype
from cortado.runtime.errors import ShapeError


def matmul_shape(a: TensorType, b: TensorType) -> tuple:
    if a.rank == 0 or b.rank == 0:
        raise ShapeError("MatMul inputs must have rank >= 1")
    sa = (1,) + tuple(a.shape) if a.rank == 1 else tuple(a.shape)
    sb = tuple(b.shape) + (1,) if b.rank == 1 else tuple(b.shape)
    k1, k2 = sa[-1], sb[-2]
    if k1 != k2:
        raise ShapeError(f"MatMul inner dims differ: {a.shape} @ {b.shape}")
    batch = broadcast_shapes(sa[:-2], sb[:-2])
    out = batch + (sa[-2], sb[-1])
    if a.rank == 1:
        out = out[:-2] + out[-1:]
    if b.rank == 1:
        out = out[:-1]
    return out


@register_op(Op.MATMUL, Category.CONTRACTION, inputs=("A", "B"))
class MatMul:
    """numpy.matmul: 1-D operands are promoted and their axis dropped; batch dims broadcast."""

    Attrs = NoAttrs

    def infer(a, x, y):
        return [TensorType(matmul_shape(x, y), same_dtype("MatMul", x, y))]

    def reference(a, x, y):
        acc = np.float64 if x.dtype.kind == "f" else None
        if acc is None:
            return np.matmul(x, y)
        return np.matmul(x.astype(acc), y.astype(acc)).astype(x.dtype)


@dataclasses.dataclass(frozen=True)
class GemmAttrs:
    alpha: float = 1.0
    beta: float = 1.0
    transA: int = 0
    transB: int = 0


@register_op(Op.GEMM, Category.CONTRACTION, inputs=("A", "B", "C?"))
class Gemm:
    """alpha * op(A) @ op(B) + beta * C, op = optional transpose; C broadcasts to (M, N)."""

    Attrs = GemmAttrs

    def infer(a, x, y, c=None):
        if x.rank != 2 or y.rank != 2:
            raise ShapeError(f"Gemm needs 2-D A and B, got {x.shape} and {y.shape}")
        m, k1 = (x.shape[1], x.shape[0]) if a.transA else x.shape
        k2, n = (y.shape[1], y.shape[0]) if a.transB else y.shape
        if k1 != k2:
            raise ShapeError(f"Gemm inner dims differ: A {x.shape} (transA={a.transA}), B {y.shape} (transB={a.transB})")
        dtype = same_dtype("Gemm", x, y, c)
        if c is not None and broadcast_shapes(c.shape, (m, n)) != (m, n):
            raise ShapeError(f"Gemm C {c.shape} does not broadcast to ({m}, {n})")
        return [TensorType((m, n), dtype)]

    def reference(a, x, y, c=None):
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        out = a.alpha * ((x64.T if a.transA else x64) @ (y64.T if a.transB else y64))
        if c is not None:
            out = out + a.beta * c.astype(np.float64)
        return out.astype(x.dtype)
