"""DLPack in and out, without torch, cupy or jax in Cortado itself.

A tensor from any framework describes itself through its ``__dlpack__`` capsule: we read the
shape, dtype and strides out of the ``DLManagedTensor`` with ctypes (the trace needs them
before anything runs; the runtime then uses CUDA tensors in place). Results go back the other
way: ``Exported`` wraps a buffer in a capsule whose deleter releases our reference, and the
framework the inputs came from imports it with its own ``from_dlpack`` — so a torch CUDA
tensor in gives a torch CUDA tensor out, on the same device, with no host copy.

The struct layouts are DLPack's (v0.8, the unversioned ``"dltensor"`` capsule every framework
accepts). The same code reads and writes CPU capsules, which is how the suite checks it on
machines without a GPU.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from typing import Any

import numpy as np

from .errors import JitError, user_location

__all__ = ["DeviceArray", "Exported", "is_dlpack", "to_framework", "KDL_CPU", "KDL_CUDA"]

KDL_CPU, KDL_CUDA, KDL_CUDA_HOST, KDL_CUDA_MANAGED = 1, 2, 3, 13
_INT, _UINT, _FLOAT, _BFLOAT, _BOOL = 0, 1, 2, 4, 6


class _Device(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _Device), ("ndim", ctypes.c_int32), ("dtype", _DataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


class _Managed(ctypes.Structure):
    pass


_DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(_Managed))
_Managed._fields_ = [("dl_tensor", _Tensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _DELETER)]

_api = ctypes.pythonapi
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_IsValid.restype = ctypes.c_int
_api.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_CAPSULE_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_api.PyCapsule_New.restype = ctypes.py_object
_api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, _CAPSULE_DESTRUCTOR]
_IsValidRaw = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)(("PyCapsule_IsValid", _api))
_GetPointerRaw = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)(("PyCapsule_GetPointer", _api))

_CODES = {"i": _INT, "u": _UINT, "f": _FLOAT, "b": _BOOL}


def _to_numpy_dtype(dt: _DataType) -> np.dtype:
    if dt.lanes != 1:
        raise JitError(f"DLPack tensors with {dt.lanes} lanes are not supported", where=user_location())
    if dt.code == _BFLOAT and dt.bits == 16:
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    kind = {_INT: "i", _UINT: "u", _FLOAT: "f", _BOOL: "b"}.get(dt.code)
    if kind is None:
        raise JitError(f"DLPack dtype code {dt.code} is not supported", where=user_location())
    return np.dtype(np.bool_) if kind == "b" else np.dtype(f"{kind}{dt.bits // 8}")


def _from_numpy_dtype(dtype: np.dtype) -> tuple[int, int]:
    dtype = np.dtype(dtype)
    if dtype.name == "bfloat16":
        return _BFLOAT, 16
    return _CODES[dtype.kind], dtype.itemsize * 8


def is_dlpack(x) -> bool:
    return hasattr(type(x), "__dlpack__") and hasattr(type(x), "__dlpack_device__")


class DeviceArray:
    """A DLPack tensor's memory as a (pointer, shape, dtype) triple, its capsule kept alive."""

    def __init__(self, device_type: int, device_id: int, shape=(), dtype=None, ptr: int = 0, capsule=None):
        self.device_type, self.device_id = int(device_type), int(device_id)
        self.shape, self.dtype, self.ptr = tuple(shape), dtype, ptr
        self.capsule = capsule   # unconsumed: the producer frees the memory when this goes away

    @property
    def on_host(self) -> bool:
        return self.device_type == KDL_CPU

    @property
    def on_cuda(self) -> bool:
        return self.device_type in (KDL_CUDA, KDL_CUDA_MANAGED)

    @classmethod
    def from_object(cls, x) -> "DeviceArray":
        device_type, device_id = x.__dlpack_device__()
        if int(device_type) == KDL_CPU:
            return cls(device_type, device_id)
        if int(device_type) not in (KDL_CUDA, KDL_CUDA_MANAGED):
            raise JitError(f"a {type(x).__name__} on DLPack device type {int(device_type)} is not supported; "
                           "Cortado runs on CUDA GPUs and the CPU", where=user_location())
        try:
            capsule = x.__dlpack__(stream=1)     # 1: the legacy default stream our launches use
        except TypeError:
            capsule = x.__dlpack__()
        arr = cls.from_capsule(capsule, owner=x)
        arr.device_type, arr.device_id = int(device_type), int(device_id)   # the object's own word
        return arr

    @classmethod
    def from_capsule(cls, capsule, owner=None) -> "DeviceArray":
        if not _api.PyCapsule_IsValid(capsule, b"dltensor"):
            raise JitError(f"{type(owner).__name__}.__dlpack__() did not return an unconsumed DLPack capsule",
                           where=user_location())
        managed = _Managed.from_address(_api.PyCapsule_GetPointer(capsule, b"dltensor"))
        t = managed.dl_tensor
        shape = tuple(int(t.shape[i]) for i in range(t.ndim))
        dtype = _to_numpy_dtype(t.dtype)
        if t.strides:
            expect, ok = 1, True
            for i in reversed(range(t.ndim)):
                if shape[i] != 1 and int(t.strides[i]) != expect:
                    ok = False
                expect *= shape[i]
            if not ok:
                raise JitError(f"a {type(owner).__name__} with strides "
                               f"{tuple(int(t.strides[i]) for i in range(t.ndim))} is not contiguous",
                               where=user_location(), hint="pass x.contiguous() (torch) or "
                                                           "ascontiguousarray (cupy, jax)")
        ptr = (t.data or 0) + int(t.byte_offset)
        return cls(t.device.device_type, t.device.device_id, shape, dtype, ptr, capsule)


# -- export ----------------------------------------------------------------------------------------
_LIVE: dict[int, tuple] = {}      # manager_ctx -> (struct, shape array, owner): alive until deleted
_LOCK = threading.Lock()
_NEXT = [1]


@_DELETER
def _delete(managed_ptr):
    ctx = managed_ptr.contents.manager_ctx
    with _LOCK:
        _LIVE.pop(ctx, None)


@_CAPSULE_DESTRUCTOR
def _capsule_destructor(capsule_ptr):
    # an unconsumed capsule still owns the tensor: release it (a consumer renames it "used_dltensor")
    if _IsValidRaw(capsule_ptr, b"dltensor"):
        managed = ctypes.cast(_GetPointerRaw(capsule_ptr, b"dltensor"), ctypes.POINTER(_Managed))
        _delete(managed)


class Exported:
    """A buffer (device pointer or host array) offered to a framework through DLPack."""

    def __init__(self, ptr: int, shape, dtype, device_type: int, device_id: int, owner: Any):
        self.ptr, self.shape, self.dtype = int(ptr), tuple(int(s) for s in shape), np.dtype(dtype)
        self.device = (int(device_type), int(device_id))
        self.owner = owner

    def __dlpack_device__(self):
        return self.device

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        if copy:
            raise BufferError("Cortado exports its buffers without copying")
        managed = _Managed()
        shape = (ctypes.c_int64 * max(len(self.shape), 1))(*self.shape)
        code, bits = _from_numpy_dtype(self.dtype)
        managed.dl_tensor = _Tensor(ctypes.c_void_p(self.ptr or None), _Device(*self.device), len(self.shape),
                                    _DataType(code, bits, 1), ctypes.cast(shape, ctypes.POINTER(ctypes.c_int64)),
                                    None, 0)
        with _LOCK:
            ctx = _NEXT[0]
            _NEXT[0] += 1
            _LIVE[ctx] = (managed, shape, self.owner)
        managed.manager_ctx = ctx
        managed.deleter = _delete
        return _api.PyCapsule_New(ctypes.addressof(managed), b"dltensor", _capsule_destructor)

    @classmethod
    def from_numpy(cls, array: np.ndarray) -> "Exported":
        return cls(array.ctypes.data, array.shape, array.dtype, KDL_CPU, 0, owner=array)

    @staticmethod
    def live_count() -> int:
        """Exports not yet released by their consumer (for tests: leaks show up here)."""
        return len(_LIVE)


def to_framework(like, exported: Exported):
    """``exported`` as an array of the framework ``like`` came from (torch, cupy, jax, numpy...)."""
    module = type(like).__module__ or ""
    parts = module.split(".")
    candidates = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
    if parts[0] in ("jax", "jaxlib"):
        candidates.insert(0, "jax.numpy")
    for name in candidates:
        mod = sys.modules.get(name)
        fn = getattr(mod, "from_dlpack", None) if mod is not None else None
        if callable(fn):
            return fn(exported)
    raise JitError(f"cannot return results as {type(like).__module__}.{type(like).__name__}: its module has no "
                   "from_dlpack", where=user_location())
