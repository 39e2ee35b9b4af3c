"""Launching kernels compiled ahead of time (cubins in an artifact) with no JIT compile.

A Triton kernel binary takes its non-constexpr arguments in signature order — device pointers
and 32/64-bit integers — followed by two scratch pointers (global and profile scratch) that
are null when the kernel needs none. ``CubinKernel`` loads the binary with the CUDA driver
API and launches it with exactly that argument list; kernels that need scratch memory are
left to the JIT path.
"""

from __future__ import annotations

import ctypes

from ..errors import TargetError
from .cuda_driver import check as _check

_CTYPES = {"i32": ctypes.c_int32, "i64": ctypes.c_int64, "u32": ctypes.c_uint32, "u64": ctypes.c_uint64,
           "fp32": ctypes.c_float}
_MAX_STATIC_SHARED = 48 * 1024


class CubinKernel:
    """One (kernel, config) binary for the current device."""

    def __init__(self, cubin: bytes, meta: dict, signature: list[str]):
        if meta.get("global_scratch_size", 0) or meta.get("profile_scratch_size", 0):
            raise TargetError(f"kernel {meta.get('name')} needs scratch memory; it runs through the JIT instead")
        self.name = meta["name"]
        self.signature = list(signature)
        self.shared = int(meta.get("shared", 0))
        self.block = 32 * int(meta.get("num_warps", 4))
        unknown = [t for t in signature if not t.startswith("*") and t not in _CTYPES]
        if unknown:     # the JIT path packs every type; this one only what it knows
            raise TargetError(f"kernel {self.name} takes {', '.join(unknown)} arguments; it runs through the JIT instead")
        self.types = tuple(ctypes.c_void_p if t.startswith("*") else _CTYPES[t] for t in signature)
        self.types += (ctypes.c_void_p, ctypes.c_void_p)     # global and profile scratch (null)
        self._load(cubin)

    def launch(self, grid, args, stream: int = 0) -> None:
        values = tuple(a.data_ptr() if hasattr(a, "data_ptr") else int(a) for a in args) + (0, 0)
        gx, gy, gz = (tuple(grid) + (1, 1))[:3]
        self._launch_raw((gx, gy, gz), values, stream)

    # -- the driver calls (a simulated device overrides these two) --------------------------------
    def _load(self, cubin: bytes) -> None:
        from cuda.bindings import driver as cu

        (self._module,) = _check(cu.cuModuleLoadData(cubin))
        (self._fn,) = _check(cu.cuModuleGetFunction(self._module, self.name.encode()))
        if self.shared > _MAX_STATIC_SHARED:
            attr = cu.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
            _check(cu.cuFuncSetAttribute(self._fn, attr, self.shared))

    def _launch_raw(self, grid: tuple, values: tuple, stream) -> None:
        from cuda.bindings import driver as cu

        gx, gy, gz = grid
        _check(cu.cuLaunchKernel(self._fn, gx, gy, gz, self.block, 1, 1, self.shared, stream,
                                 (values, self.types), 0))
