"""The CUDA device: device memory through ``cuda.core``, kernels launched by Triton.

Triton launches any argument that has ``data_ptr()`` and ``dtype`` as a pointer, so device
buffers are wrapped in ``DeviceTensor`` — no torch needed. Copies and launches all go to the
default stream, which orders them without extra synchronization; ``synchronize`` waits for it
before outputs are read back.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import numpy_dtype
from ..errors import TargetError
from ..loader import load_kernels


def probe() -> bool:
    """True when a CUDA device can be opened (never raises)."""
    try:
        from cuda.core import Device

        dev = Device(0)
        dev.set_current()
        major, _ = dev.compute_capability
        return major >= 7
    except Exception:   # no driver, no device, no bindings: all mean "not usable"
        return False


def _check(result):
    err = result[0]
    if int(err) != 0:
        from cuda.bindings import driver as cu

        _, name = cu.cuGetErrorName(err)
        raise TargetError(f"CUDA call failed: {name.decode() if isinstance(name, bytes) else name}")
    return result[1:] if len(result) > 1 else None


class DeviceTensor:
    """A typed view of device memory, as Triton's launcher sees a tensor."""

    __slots__ = ("ptr", "dtype", "shape", "owner")

    def __init__(self, ptr: int, dtype: np.dtype, shape: tuple, owner=None):
        self.ptr = int(ptr)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self.owner = owner          # keeps the allocation alive

    def data_ptr(self) -> int:
        return self.ptr

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


class CudaDevice:
    name = "cuda"
    family = "cuda"

    def __init__(self):
        from cuda.core import Device

        self._dev = Device(0)
        self._dev.set_current()
        self.arch = "sm_%d%d" % self._dev.compute_capability

    def load_kernels(self, source: str):
        return load_kernels(source, interpret=False)

    def _allocate(self, nbytes: int):
        return self._dev.allocate(max(int(nbytes), 1))

    def alloc(self, nbytes: int):
        return self._allocate(nbytes)

    def view(self, buf, dtype: str, shape) -> DeviceTensor:
        return DeviceTensor(int(buf.handle), numpy_dtype(dtype), shape, buf)

    def reshape(self, t: DeviceTensor, shape) -> DeviceTensor:
        return DeviceTensor(t.ptr, t.dtype, shape, t.owner)

    def offset_view(self, t: DeviceTensor, offset: int) -> DeviceTensor:
        n = int(np.prod(t.shape, dtype=np.int64)) - offset
        return DeviceTensor(t.ptr + offset * t.dtype.itemsize, t.dtype, (n,), t.owner)

    def empty(self, dtype: str, shape) -> DeviceTensor:
        dt = numpy_dtype(dtype)
        n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        buf = self._allocate(n)
        return DeviceTensor(int(buf.handle), dt, shape, buf)

    def from_host(self, array: np.ndarray) -> DeviceTensor:
        from cuda.bindings import driver as cu

        a = np.ascontiguousarray(array)
        t = self.empty(_name(a.dtype), a.shape)
        if a.nbytes:
            _check(cu.cuMemcpyHtoDAsync(t.ptr, a.ctypes.data, a.nbytes, 0))
        return t

    def to_host(self, t: DeviceTensor) -> np.ndarray:
        from cuda.bindings import driver as cu

        out = np.empty(t.shape, dtype=t.dtype)
        if out.nbytes:
            _check(cu.cuMemcpyDtoHAsync(out.ctypes.data, t.ptr, out.nbytes, 0))
        self.synchronize()
        return out

    def copy(self, dst: DeviceTensor, src: DeviceTensor) -> None:
        from cuda.bindings import driver as cu

        if src.nbytes:
            _check(cu.cuMemcpyDtoDAsync(dst.ptr, src.ptr, src.nbytes, 0))

    def launch(self, kernel, grid, args, constexprs, num_warps, num_stages):
        kernel[grid](*args, **constexprs, num_warps=num_warps, num_stages=num_stages)

    def synchronize(self) -> None:
        from cuda.bindings import driver as cu

        _check(cu.cuCtxSynchronize())


def _name(dtype) -> str:
    from ..dtypes import dtype_name

    name = dtype_name(dtype)
    if name is None:
        raise TargetError(f"arrays of dtype {dtype} cannot be moved to the GPU")
    return name
