"""Element types by name, as numpy dtypes: the one table both the runtime and the IR use.

The runtime must work on a serving machine with numpy and triton only, so the mapping from a
manifest's dtype names to numpy lives here; ``cortado.ir.dtypes`` builds on it.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

NUMPY_DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float64": np.dtype(np.float64),
    "int8": np.dtype(np.int8),
    "int16": np.dtype(np.int16),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "uint8": np.dtype(np.uint8),
    "uint16": np.dtype(np.uint16),
    "uint32": np.dtype(np.uint32),
    "uint64": np.dtype(np.uint64),
    "bool": np.dtype(np.bool_),
}

_BY_NUMPY = {v: k for k, v in NUMPY_DTYPES.items()}


def numpy_dtype(name: str) -> np.dtype:
    try:
        return NUMPY_DTYPES[name]
    except KeyError:
        raise ValueError(f"unknown element type {name!r}; known: {', '.join(NUMPY_DTYPES)}") from None


def dtype_name(dtype) -> str | None:
    """The name of a numpy dtype, or None when Cortado has no such element type."""
    return _BY_NUMPY.get(np.dtype(dtype))
