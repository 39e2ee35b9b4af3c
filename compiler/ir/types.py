"""The type of every value: a shape of dims (static or symbolic) and an element type."""

from __future__ import annotations

from dataclasses import dataclass

from .dims import Dim, SymExpr, is_static, prod
from .dtypes import DType

__all__ = ["TensorType"]


@dataclass(frozen=True)
class TensorType:
    shape: tuple[Dim, ...]
    dtype: DType

    def __post_init__(self):
        shape = tuple(d if isinstance(d, SymExpr) else int(d) for d in self.shape)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "dtype", DType(self.dtype))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> Dim:
        return prod(self.shape)

    @property
    def is_static(self) -> bool:
        return all(is_static(d) for d in self.shape)

    @property
    def nbytes(self) -> Dim:
        return self.numel * self.dtype.itemsize

    def with_shape(self, shape) -> "TensorType":
        return TensorType(tuple(shape), self.dtype)

    def with_dtype(self, dtype) -> "TensorType":
        return TensorType(self.shape, DType(dtype))

    def __str__(self) -> str:
        dims = "x".join(str(d) for d in self.shape) if self.shape else "scalar"
        return f"{self.dtype}[{dims}]"
