"""Launch configurations (block sizes, warps, stages) per target family.

The interpreter runs each program as numpy operations on whole blocks, so it wants few,
large programs; GPUs want many small ones. Every kernel records a config for both, so one
compiled model (and one saved artifact) runs on either.
"""

from __future__ import annotations

from compiler.ir.dims import Dim

TARGETS = ("interpreter", "cuda")

INTERPRETER_BLOCK = 1 << 16          # elements per program for pointwise work on the CPU
CUDA_BLOCK = 1024


def next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def static_size(d: Dim, default: int) -> int:
    return d if isinstance(d, int) else default


def pointwise(numel: Dim) -> dict[str, dict]:
    n = static_size(numel, INTERPRETER_BLOCK)
    return {
        "interpreter": {"BLOCK": min(next_pow2(n), INTERPRETER_BLOCK), "num_warps": 4, "num_stages": 1},
        "cuda": {"BLOCK": min(max(next_pow2(n), 128), CUDA_BLOCK), "num_warps": 4, "num_stages": 1},
    }
