"""Launch configurations (block sizes, warps, stages) per target family.

The interpreter runs each program as numpy operations on whole blocks, so it wants few,
large programs; GPUs want many small ones. Every kernel records a config for both, so one
compiled model (and one saved artifact) runs on either.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Mapping

from cortado.ir.dims import BATCH_SYMBOL_SIZE, Dim

TARGETS = ("interpreter", "cuda")

INTERPRETER_BLOCK = 1 << 16          # elements per program for pointwise work on the CPU
CUDA_BLOCK = 1024


def next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


_SYMBOL_SIZES: ContextVar[Mapping[str, int]] = ContextVar("symbol_sizes", default={})


@contextmanager
def symbol_sizes(sizes: Mapping[str, int]):
    """Choose block sizes with ``sizes`` (from ``representative_sizes``) inside the block."""
    token = _SYMBOL_SIZES.set(dict(sizes))
    try:
        yield
    finally:
        _SYMBOL_SIZES.reset(token)


def static_size(d: Dim, default: int | None = None) -> int:
    """A size to pick block sizes with: a static dim as is; a symbolic one at its
    representative size (``cortado.ir.dims.representative_sizes``; a symbol not known there
    counts as 1).
    ``default`` is kept for callers that want a fixed guess for a symbolic dim instead."""
    if isinstance(d, int):
        return d
    if default is not None:
        return default
    sizes = _SYMBOL_SIZES.get()
    return max(1, d.evaluate({s: sizes.get(s, BATCH_SYMBOL_SIZE) for s in d.symbols()}))


def pointwise(numel: Dim) -> dict[str, dict]:
    n = static_size(numel, INTERPRETER_BLOCK)
    return {
        "interpreter": {"BLOCK": min(next_pow2(n), INTERPRETER_BLOCK), "num_warps": 4, "num_stages": 1},
        "cuda": {"BLOCK": min(max(next_pow2(n), 128), CUDA_BLOCK), "num_warps": 4, "num_stages": 1},
    }
