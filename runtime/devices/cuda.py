"""The CUDA device: device memory through ``cuda.core``, kernels launched by Triton.

Triton launches any argument that has ``data_ptr()`` and ``dtype`` as a pointer, so device
buffers are wrapped in ``DeviceTensor`` — no torch needed. The first launch of each step goes
through Triton's JIT (compile or cache lookup); later launches call the compiled kernel's
launcher directly, skipping the per-call argument binding and cache key. Kernels compiled ahead
of time for this GPU's architecture (cubins in an artifact) are launched with no JIT at all.
Host<->device copies run on the default (legacy) stream; each call of a model launches its
kernels on a stream of its own (``new_stream``, lent with the call's buffers). Those streams
are created blocking, so the default stream orders them with the copies without extra events.
"""

from __future__ import annotations

import threading

import numpy as np

from ..dtypes import numpy_dtype
from ..errors import InputError, TargetError
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
    """A typed view of device memory, as Triton's launcher sees a tensor; also exports
    ``__cuda_array_interface__`` so torch/cupy can wrap outputs without a copy."""

    __slots__ = ("ptr", "dtype", "shape", "owner")

    def __init__(self, ptr: int, dtype: np.dtype, shape: tuple, owner=None):
        self.ptr = int(ptr)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(d) for d in shape)
        self.owner = owner          # keeps the allocation (or the caller's array) alive

    def data_ptr(self) -> int:
        return self.ptr

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def __cuda_array_interface__(self) -> dict:
        typestr = self.dtype.str if self.dtype.kind != "V" else "<u2"   # bfloat16 travels as raw bits
        return {"shape": self.shape, "typestr": typestr, "data": (self.ptr, False), "version": 3,
                "strides": None}


def device_array_info(obj):
    """(shape, dtype, pointer) of a device array given through the CUDA array interface or
    DLPack, or None for anything else (a host array)."""
    cai = getattr(obj, "__cuda_array_interface__", None)
    if cai is not None:
        shape = tuple(cai["shape"])
        dtype = np.dtype(cai["typestr"])
        strides = cai.get("strides")
        if strides is not None:
            expected, acc = [], dtype.itemsize
            for d in reversed(shape):
                expected.append(acc)
                acc *= d
            if tuple(strides) != tuple(reversed(expected)):
                raise InputError("device inputs must be contiguous (row-major)", hint="call .contiguous() first")
        return shape, dtype, int(cai["data"][0])
    if hasattr(obj, "__dlpack__") and not isinstance(obj, np.ndarray):
        from cuda.core.utils import StridedMemoryView

        view = StridedMemoryView(obj, stream_ptr=-1)
        if not view.is_device_accessible:
            return None
        if view.strides is not None:
            expected, acc = [], 1
            for d in reversed(view.shape):
                expected.append(acc)
                acc *= d
            if tuple(view.strides) != tuple(reversed(expected)):
                raise InputError("device inputs must be contiguous (row-major)", hint="call .contiguous() first")
        return tuple(view.shape), np.dtype(view.dtype), int(view.ptr)
    return None


class CudaDevice:
    name = "cuda"
    family = "cuda"

    def __init__(self):
        from cuda.core import Device

        self._dev = Device(0)
        self._dev.set_current()
        self.arch = "sm_%d%d" % self._dev.compute_capability
        self._direct: dict = {}      # (step, pointer alignment, config) -> Triton CompiledKernel
        self._cubins: dict = {}      # step -> CubinKernel
        self._threads = threading.local()
        self._threads.current = True

    def load_kernels(self, source: str):
        return load_kernels(source, interpret=False)

    # -- memory -------------------------------------------------------------------------------
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

    def from_host(self, array) -> DeviceTensor:
        """A device tensor for an input: device arrays are used in place, host arrays copied."""
        from cuda.bindings import driver as cu

        info = device_array_info(array)
        if info is not None:
            shape, dtype, ptr = info
            return DeviceTensor(ptr, dtype, shape, array)
        a = np.asarray(array, order="C")
        t = self.empty(_name(a.dtype), a.shape)
        if a.nbytes:
            _check(cu.cuMemcpyHtoDAsync(t.ptr, a.ctypes.data, a.nbytes, 0))
        return t

    def copy_from_host(self, dst: DeviceTensor, array, stream: int = 0) -> None:
        from cuda.bindings import driver as cu

        info = device_array_info(array)
        if info is not None:
            _check(cu.cuMemcpyDtoDAsync(dst.ptr, info[2], dst.nbytes, stream))
            return
        a = np.asarray(array, order="C")
        _check(cu.cuMemcpyHtoDAsync(dst.ptr, a.ctypes.data, a.nbytes, stream))

    def to_host(self, t: DeviceTensor) -> np.ndarray:
        from cuda.bindings import driver as cu

        out = np.empty(t.shape, dtype=t.dtype)
        if out.nbytes:
            _check(cu.cuMemcpyDtoHAsync(out.ctypes.data, t.ptr, out.nbytes, 0))
        self.synchronize()
        return out

    def copy(self, dst: DeviceTensor, src: DeviceTensor, stream=None) -> None:
        from cuda.bindings import driver as cu

        if src.nbytes:
            _check(cu.cuMemcpyDtoDAsync(dst.ptr, src.ptr, min(src.nbytes, dst.nbytes), stream or 0))

    def array_info(self, obj):
        return device_array_info(obj)

    # -- launching ----------------------------------------------------------------------------
    def use_cubins(self, plan: dict, index: list[dict], files: dict) -> int:
        """Adopt ahead-of-time binaries for this architecture; returns how many steps use them."""
        import json

        from .cubin import CubinKernel

        signatures = {k["name"]: list(k["signature"].values()) for k in plan["kernels"]}
        mine = {(e["kernel"], e["config"]): e for e in index if e["arch"] == self.arch}
        loaded: dict = {}
        for i, step in enumerate(plan["steps"]):
            key = (step["kernel"], json.dumps(step["configs"]["cuda"], sort_keys=True))
            entry = mine.get(key)
            if entry is None:
                continue
            if key not in loaded:
                try:
                    loaded[key] = CubinKernel(files[(self.arch, entry["file"])], entry["meta"],
                                              signatures[step["kernel"]])
                except TargetError:
                    loaded[key] = None
            if loaded[key] is not None:
                self._cubins[i] = loaded[key]
        return len(self._cubins)

    def launch(self, launch, stream=None) -> None:
        cubin = self._cubins.get(launch.step)
        if cubin is not None:
            cubin.launch(launch.grid, launch.args, stream or 0)
            return
        align = tuple(a.data_ptr() % 16 == 0 for a in launch.args if hasattr(a, "data_ptr"))
        key = (launch.step, align, tuple(launch.config.items()))
        compiled = self._direct.get(key)
        if compiled is not None:
            # the launcher takes every parameter, constexprs included, in declaration order
            consts = launch.constexprs
            extra = [consts[n] for n in launch.kernel.arg_names[len(launch.args):]]
            compiled[launch.grid](*launch.args, *extra, stream=stream or 0)
            return
        if stream and _capturing(stream):
            raise TargetError("a kernel must run once before it can be captured in a CUDA graph")
        # Triton's JIT launches on the default stream; a call's own stream is blocking, so it is
        # ordered with it. Compiling reads triton.language, which Triton's interpreter patches
        # while it runs a kernel: hold the interpreter's lock (a process may use both targets).
        from ..locks import INTERPRETER_LOCK

        cfg = launch.config
        with INTERPRETER_LOCK:
            compiled = launch.kernel[launch.grid](*launch.args, **launch.constexprs,
                                                  num_warps=cfg.get("num_warps", 4),
                                                  num_stages=cfg.get("num_stages", 1))
        if compiled is not None and hasattr(compiled, "__getitem__"):
            self._direct[key] = compiled

    def synchronize(self) -> None:
        from cuda.bindings import driver as cu

        _check(cu.cuCtxSynchronize())

    def capture_graph(self, model, env):
        from .cuda_graph import CapturedPlan

        return CapturedPlan(self, model, env)

    # -- many callers (see runtime/buffers.py and the devices package docstring) ---------------
    def enter_thread(self) -> None:
        """Make this device's context current on the calling thread (CUDA keeps the current
        context per thread; the model calls this at the start of every run)."""
        if not getattr(self._threads, "current", False):
            self._dev.set_current()
            self._threads.current = True

    def new_stream(self) -> "CallStream":
        """A stream for one call's launches and copies, lent with its buffers."""
        return CallStream()

    def sync_stream(self, stream: int) -> None:
        from cuda.bindings import driver as cu

        _check(cu.cuStreamSynchronize(stream))


class CallStream:
    """A blocking CUDA stream owned by one buffer set; ``int()`` is its handle."""

    def __init__(self):
        from cuda.bindings import driver as cu

        (self._stream,) = _check(cu.cuStreamCreate(cu.CUstream_flags.CU_STREAM_DEFAULT.value))

    def __int__(self) -> int:
        return int(self._stream)

    def __del__(self):
        try:
            from cuda.bindings import driver as cu

            cu.cuStreamDestroy(self._stream)
        except Exception:   # interpreter shutdown: the driver may be gone already
            pass


def _capturing(stream) -> bool:
    from cuda.bindings import driver as cu

    status = _check(cu.cuStreamIsCapturing(stream))[0]
    return status != cu.CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_NONE


def _name(dtype) -> str:
    from ..dtypes import dtype_name

    name = dtype_name(dtype)
    if name is None:
        raise TargetError(f"arrays of dtype {dtype} cannot be moved to the GPU")
    return name
