"""Element types of tensors: one enum that knows its numpy, ONNX and Triton spellings."""

from __future__ import annotations

from enum import Enum

import ml_dtypes
import numpy as np

from cortado.runtime.dtypes import NUMPY_DTYPES, dtype_name

__all__ = ["DType"]

# ONNX TensorProto.DataType codes (fixed by the ONNX spec; kept here so the IR needs no onnx).
_ONNX_CODES = {
    "float32": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6, "int64": 7,
    "bool": 9, "float16": 10, "float64": 11, "uint32": 12, "uint64": 13, "bfloat16": 16,
}
_TRITON = {
    "float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64", "bool": "i1",
}


class DType(str, Enum):
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT64 = "float64"
    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    UINT8 = "uint8"
    UINT16 = "uint16"
    UINT32 = "uint32"
    UINT64 = "uint64"
    BOOL = "bool"

    def __str__(self) -> str:
        return self.value

    @property
    def numpy(self) -> np.dtype:
        return NUMPY_DTYPES[self.value]

    @property
    def itemsize(self) -> int:
        return self.numpy.itemsize

    @property
    def is_float(self) -> bool:
        return self in _FLOATS

    @property
    def is_int(self) -> bool:
        return not self.is_float and self is not DType.BOOL

    @property
    def is_signed(self) -> bool:
        return self.is_float or self.value.startswith("int")

    @property
    def lowest(self):
        """The smallest finite value (False for bool): what MaxPool gives for a window of
        padding alone, as onnxruntime does, and where an integer MaxPool starts."""
        if self is DType.BOOL:
            return False
        if self.is_float:
            return float(ml_dtypes.finfo(self.numpy).min)
        return int(np.iinfo(self.numpy).min)

    @property
    def onnx_code(self) -> int:
        return _ONNX_CODES[self.value]

    @property
    def triton(self) -> str:
        """Triton's short name (``fp32``), as used in kernel signatures."""
        return _TRITON[self.value]

    @property
    def triton_lang(self) -> str:
        """The ``tl.`` spelling used inside generated kernels."""
        return "tl.int1" if self is DType.BOOL else f"tl.{self.value}"

    @staticmethod
    def from_numpy(dtype) -> "DType":
        name = dtype_name(dtype)
        if name is None:
            raise ValueError(f"numpy dtype {np.dtype(dtype)} has no Cortado element type")
        return DType(name)

    @staticmethod
    def from_onnx(code: int) -> "DType":
        for name, c in _ONNX_CODES.items():
            if c == code:
                return DType(name)
        raise ValueError(f"ONNX element type code {code} is not supported")


_FLOATS = frozenset({DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16, DType.FLOAT64})
