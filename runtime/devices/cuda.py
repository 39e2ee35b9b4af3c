"""The CUDA device: device memory through ``cuda.core``, kernels launched by Triton.

Triton launches any argument that has ``data_ptr()`` and ``dtype`` as a pointer, so device
buffers are wrapped in ``DeviceTensor`` — no torch needed. The first launch of each step goes
through Triton's JIT (compile or cache lookup); later launches call the compiled kernel's
launcher directly, skipping the per-call argument binding and cache key. Kernels compiled ahead
of time for this GPU's architecture (cubins in an artifact) are launched with no JIT at all.
Everything runs on one stream, so launches and copies are ordered without extra events.
"""

from __future__ import annotations

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
        self.device_name = str(getattr(self._dev, "name", "cuda"))
        self._init_launch_state()

    def _init_launch_state(self) -> None:
        """Everything but the device itself (a simulated device shares it)."""
        self._direct: dict = {}      # (step, pointer alignment, config) -> Triton CompiledKernel
        self._cubins: dict = {}      # step -> CubinKernel

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
        info = self.array_info(array)
        if info is not None:
            shape, dtype, ptr = info
            return DeviceTensor(ptr, dtype, shape, array)
        a = np.asarray(array, order="C")
        t = self.empty(_name(a.dtype), a.shape)
        if a.nbytes:
            self._memcpy_htod(t.ptr, a, 0)
        return t

    def copy_from_host(self, dst: DeviceTensor, array, stream: int = 0) -> None:
        info = self.array_info(array)
        if info is not None:
            self._memcpy_dtod(dst.ptr, info[2], dst.nbytes, stream)
            return
        self._memcpy_htod(dst.ptr, np.asarray(array, order="C"), stream)

    def to_host(self, t: DeviceTensor) -> np.ndarray:
        out = np.empty(t.shape, dtype=t.dtype)
        if out.nbytes:
            self._memcpy_dtoh(out, t.ptr, 0)
        self.synchronize()
        return out

    def copy(self, dst: DeviceTensor, src: DeviceTensor, stream=None) -> None:
        if src.nbytes:
            self._memcpy_dtod(dst.ptr, src.ptr, min(src.nbytes, dst.nbytes), stream or 0)

    def array_info(self, obj):
        return device_array_info(obj)

    # -- launching ----------------------------------------------------------------------------
    def use_cubins(self, plan: dict, index: list[dict], files: dict) -> int:
        """Adopt ahead-of-time binaries for this architecture; returns how many steps use them."""
        import json

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
                    loaded[key] = self._load_cubin(files[(self.arch, entry["file"])], entry["meta"],
                                                   signatures[step["kernel"]], step["configs"]["cuda"])
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
        if stream:
            raise TargetError("a kernel must run once before it can be captured in a CUDA graph")
        compiled = self._jit_launch(launch)
        if compiled is not None and hasattr(compiled, "__getitem__"):
            self._direct[key] = compiled

    def capture_graph(self, model, env):
        from .cuda_graph import CapturedPlan

        return CapturedPlan(self, model, env)

    # -- the driver seam: every call into Triton's JIT and the CUDA driver goes through these
    # few methods, so that a simulated device (tests/runtime/simulated_gpu.py) can run all of
    # the logic above over host memory
    def _jit_launch(self, launch):
        """Launch through Triton's JIT (compiling on a cache miss); returns its CompiledKernel."""
        cfg = launch.config
        return launch.kernel[launch.grid](*launch.args, **launch.constexprs,
                                          num_warps=cfg.get("num_warps", 4), num_stages=cfg.get("num_stages", 1))

    def _load_cubin(self, cubin: bytes, meta: dict, signature: list[str], config: dict):
        """The binary of one (kernel, config); ``config`` is what it was built with (the binary
        has its constants baked in; a simulated device needs them to run the kernel)."""
        from .cubin import CubinKernel

        return CubinKernel(cubin, meta, signature)

    def _memcpy_htod(self, dst: int, host: np.ndarray, stream) -> None:
        from cuda.bindings import driver as cu

        _check(cu.cuMemcpyHtoDAsync(dst, host.ctypes.data, host.nbytes, stream))

    def _memcpy_dtoh(self, host: np.ndarray, src: int, stream) -> None:
        from cuda.bindings import driver as cu

        _check(cu.cuMemcpyDtoHAsync(host.ctypes.data, src, host.nbytes, stream))

    def _memcpy_dtod(self, dst: int, src: int, nbytes: int, stream) -> None:
        from cuda.bindings import driver as cu

        _check(cu.cuMemcpyDtoDAsync(dst, src, nbytes, stream))

    def synchronize(self) -> None:
        from cuda.bindings import driver as cu

        _check(cu.cuCtxSynchronize())

    def stream_synchronize(self, stream) -> None:
        from cuda.bindings import driver as cu

        _check(cu.cuStreamSynchronize(stream))

    def create_stream(self):
        """A non-blocking stream (no implicit ordering with the legacy default stream)."""
        from cuda.bindings import driver as cu

        (stream,) = _check(cu.cuStreamCreate(cu.CUstream_flags.CU_STREAM_NON_BLOCKING.value))
        return stream

    def destroy_stream(self, stream) -> None:
        from cuda.bindings import driver as cu

        _check(cu.cuStreamDestroy(stream))

    def begin_capture(self, stream) -> None:
        from cuda.bindings import driver as cu

        _check(cu.cuStreamBeginCapture(stream, cu.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL))

    def end_capture(self, stream):
        from cuda.bindings import driver as cu

        (graph,) = _check(cu.cuStreamEndCapture(stream))
        return graph

    def instantiate_graph(self, graph):
        from cuda.bindings import driver as cu

        (exec_,) = _check(cu.cuGraphInstantiate(graph, 0))
        return exec_

    def launch_graph(self, exec_, stream) -> None:
        from cuda.bindings import driver as cu

        _check(cu.cuGraphLaunch(exec_, stream))

    def destroy_graph(self, graph, exec_) -> None:
        from cuda.bindings import driver as cu

        if exec_ is not None:
            _check(cu.cuGraphExecDestroy(exec_))
        if graph is not None:
            _check(cu.cuGraphDestroy(graph))


def _name(dtype) -> str:
    from ..dtypes import dtype_name

    name = dtype_name(dtype)
    if name is None:
        raise TargetError(f"arrays of dtype {dtype} cannot be moved to the GPU")
    return name
