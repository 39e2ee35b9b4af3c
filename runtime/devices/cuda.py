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

import json
import threading

import numpy as np

from ..dtypes import numpy_dtype
from ..errors import InputError, TargetError
from ..loader import load_kernels
from ..locks import INTERPRETER_LOCK
from .cuda_driver import check as _check


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
        self._direct: dict = {}      # (step, Triton's specialization, config) -> (CompiledKernel, order)
        self._cubins: dict = {}      # step -> CubinKernel
        self._param_flags: dict = {}  # kernel -> how Triton specializes each runtime parameter
        self._triton_backend = None
        self._lock = threading.RLock()
        self._thread = threading.local()
        self._capturing = False

    def load_kernels(self, source: str):
        return load_kernels(source, interpret=False)   # the loader holds its own lock

    # -- memory -------------------------------------------------------------------------------
    def _allocate(self, nbytes: int):
        return self._dev.allocate(max(int(nbytes), 1))

    def alloc(self, nbytes: int):
        self._ensure_current()
        return self._allocate(nbytes)

    def view(self, buf, dtype: str, shape) -> DeviceTensor:
        return DeviceTensor(int(buf.handle), numpy_dtype(dtype), shape, buf)

    def reshape(self, t: DeviceTensor, shape) -> DeviceTensor:
        return DeviceTensor(t.ptr, t.dtype, shape, t.owner)

    def offset_view(self, t: DeviceTensor, offset: int) -> DeviceTensor:
        n = int(np.prod(t.shape, dtype=np.int64)) - offset
        return DeviceTensor(t.ptr + offset * t.dtype.itemsize, t.dtype, (n,), t.owner)

    def empty(self, dtype: str, shape) -> DeviceTensor:
        self._ensure_current()
        dt = numpy_dtype(dtype)
        n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        buf = self._allocate(n)
        return DeviceTensor(int(buf.handle), dt, shape, buf)

    def from_host(self, array) -> DeviceTensor:
        """A device tensor for an input: device arrays are used in place, host arrays copied."""
        self._ensure_current()
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
        self._ensure_current()
        info = self.array_info(array)
        if info is not None:
            self._memcpy_dtod(dst.ptr, info[2], dst.nbytes, stream)
            return
        self._memcpy_htod(dst.ptr, np.asarray(array, order="C"), stream)

    def to_host(self, t: DeviceTensor) -> np.ndarray:
        self._ensure_current()
        out = np.empty(t.shape, dtype=t.dtype)
        if out.nbytes:
            self._memcpy_dtoh(out, t.ptr, 0)
        self.synchronize()
        return out

    def copy(self, dst: DeviceTensor, src: DeviceTensor, stream=None) -> None:
        self._ensure_current()
        if src.nbytes:
            self._memcpy_dtod(dst.ptr, src.ptr, min(src.nbytes, dst.nbytes), stream or 0)

    def array_info(self, obj):
        return device_array_info(obj)

    # -- launching ----------------------------------------------------------------------------
    def use_cubins(self, plan: dict, index: list[dict], files: dict) -> int:
        """Adopt ahead-of-time binaries for this architecture; returns how many steps use them."""
        signatures = {k["name"]: list(k["signature"].values()) for k in plan["kernels"]}
        mine = {(e["kernel"], e["config"]): e for e in index if e["arch"] == self.arch}
        loaded: dict = {}
        for i, step in enumerate(plan["steps"]):
            if "host" in step:
                continue                 # a host step (segments.py) launches nothing
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
        """Launch one step on ``stream`` (0: the legacy default stream).

        Every launch goes through a Triton ``CompiledKernel``'s runner with a 3-D grid and every
        parameter in declaration order. The binary is looked up by the step, its config and
        Triton's own specialization of the arguments (the same function Triton's JIT keys its
        cache on: an integer equal to 1 or divisible by 16, a 16-byte aligned pointer, the
        integer width), so a binary is never reused for arguments it was not specialized for,
        whatever the kernel declares in ``do_not_specialize``."""
        self._ensure_current()
        stream = stream or 0
        cubin = self._cubins.get(launch.step)
        if cubin is not None:
            cubin.launch(launch.grid, launch.args, stream)
            return
        kernel = launch.kernel
        flags = self._param_flags.get(kernel)
        if flags is None:
            flags = self._param_flags[kernel] = _param_flags(kernel)
        key = (launch.step, _specialization(self._backend(), flags, launch.args), tuple(launch.config.items()))
        entry = self._direct.get(key)
        if entry is None:
            if stream and self._capturing:
                raise TargetError("a kernel must run once before it can be captured in a CUDA graph")
            entry = self._compile_step(launch, key)
        compiled, order = entry
        it = iter(launch.args)
        consts = launch.config
        args = [consts[name] if name is not None else next(it) for name in order]
        compiled[(tuple(launch.grid) + (1, 1))[:3]](*args, stream=stream)

    def _compile_step(self, launch, key):
        # Triton's JIT is not safe to enter from many threads at once, and compiling reads
        # triton.language, which Triton's interpreter patches while it runs a kernel (a process
        # may use both targets): hold the interpreter's lock too
        with self._lock, INTERPRETER_LOCK:
            entry = self._direct.get(key)
            if entry is None:
                cfg = launch.config
                compiled = self._compile(launch.kernel, launch.args, launch.constexprs,
                                         {"num_warps": cfg.get("num_warps", 4), "num_stages": cfg.get("num_stages", 1)})
                order = tuple(p.name if p.is_constexpr else None for p in launch.kernel.params)
                entry = self._direct[key] = (compiled, order)
        return entry

    def _backend(self):
        b = self._triton_backend
        if b is None:
            from triton.backends.compiler import GPUTarget
            from triton.compiler import make_backend

            b = self._triton_backend = make_backend(GPUTarget("cuda", int(self.arch[3:]), 32))
        return b

    def _ensure_current(self) -> None:
        """CUDA contexts are per thread: make this device's current on a thread's first use."""
        if not getattr(self._thread, "ready", False):
            self._make_current()
            self._thread.ready = True

    def cuda_graphs(self):
        """The CUDA graphs of one model (see ``cuda_graph.CudaGraphs``)."""
        from .cuda_graph import CudaGraphs

        return CudaGraphs(self)

    def time_ms(self, fn, repeats: int) -> float:
        """Milliseconds the device spends on ``repeats`` calls of ``fn`` (CUDA events on stream 0)."""
        from cuda.bindings import driver as cu

        self._ensure_current()
        (start,) = _check(cu.cuEventCreate(0))
        (stop,) = _check(cu.cuEventCreate(0))
        try:
            self.synchronize()
            _check(cu.cuEventRecord(start, 0))
            for _ in range(repeats):
                fn()
            _check(cu.cuEventRecord(stop, 0))
            _check(cu.cuEventSynchronize(stop))
            (ms,) = _check(cu.cuEventElapsedTime(start, stop))
            return float(ms)
        finally:
            _check(cu.cuEventDestroy(start))
            _check(cu.cuEventDestroy(stop))

    # -- the driver seam: every call into Triton's JIT and the CUDA driver goes through these
    # few methods, so that a simulated device (tests/runtime/simulated_gpu.py) can run all of
    # the logic above over host memory
    def _compile(self, kernel, args, constexprs: dict, options: dict):
        """Triton's CompiledKernel for these arguments (its JIT cache, or a compile), not launched."""
        return kernel.warmup(*args, grid=(1, 1, 1), **constexprs, **options)

    def _make_current(self) -> None:
        self._dev.set_current()

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

    def create_stream(self, blocking: bool = False):
        """A stream; non-blocking ones have no implicit ordering with the legacy default stream."""
        from cuda.bindings import driver as cu

        flag = cu.CUstream_flags.CU_STREAM_DEFAULT if blocking else cu.CUstream_flags.CU_STREAM_NON_BLOCKING
        (stream,) = _check(cu.cuStreamCreate(flag.value))
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

    # -- many callers (see runtime/buffers.py and the devices package docstring) ---------------
    def enter_thread(self) -> None:
        """Make this device's context current on the calling thread (CUDA keeps the current
        context per thread; the model calls this at the start of every run)."""
        self._ensure_current()

    def new_stream(self) -> "CallStream":
        """A stream for one call's launches, lent with its buffers (blocking, so the legacy
        stream's copies in and out are ordered with it)."""
        return CallStream(self)

    def sync_stream(self, stream) -> None:
        self.stream_synchronize(int(stream))


class CallStream:
    """A blocking stream owned by one buffer set; ``int()`` is its handle."""

    def __init__(self, device):
        self._device = device
        self._stream = device.create_stream(blocking=True)

    def __int__(self) -> int:
        return int(self._stream)

    def __del__(self):
        try:
            self._device.destroy_stream(self._stream)
        except Exception:   # interpreter shutdown: the driver may be gone already
            pass


def _param_flags(kernel) -> tuple:
    """(is_const, specialize, align) of each runtime parameter, as Triton's binder reads them."""
    return tuple((p.is_const, not p.do_not_specialize, not p.do_not_specialize_on_alignment)
                 for p in kernel.params if not p.is_constexpr)


def _specialization(backend, flags, args) -> tuple:
    """Triton's specialization of the runtime arguments (``native_specialize_impl``, the function
    its JIT cache key is made of); pointers only by their 16-byte alignment, which is all Triton
    takes from them besides the element type the plan fixes."""
    from triton._C.libtriton import native_specialize_impl

    out = []
    for (is_const, spec, align), a in zip(flags, args):
        if hasattr(a, "data_ptr"):
            out.append((a.dtype, spec and align and a.data_ptr() % 16 == 0))
        else:
            out.append(native_specialize_impl(backend, a, is_const, spec, align))
    return tuple(out)


def _name(dtype) -> str:
    from ..dtypes import dtype_name

    name = dtype_name(dtype)
    if name is None:
        raise TargetError(f"arrays of dtype {dtype} cannot be moved to the GPU")
    return name
