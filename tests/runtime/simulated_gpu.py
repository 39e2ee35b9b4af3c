"""A simulated GPU: ``CudaDevice``'s own launch, cubin and graph logic over host memory.

``SimulatedGpu`` subclasses ``CudaDevice`` and replaces only its driver seam (allocation,
copies, streams, graph capture, Triton's JIT and cubin loading), so every line of the cuda
runtime above that seam runs here unchanged. What a real GPU would do silently wrong, the
simulation turns into a ``SimulatedFault`` naming the cause:

* memory: allocations live at fake device addresses that are never reused, with red zones
  after each block; a freed block is poisoned (0xFF) and any later copy, kernel or graph
  replay that touches it faults (use after free), as does a kernel writing past a block;
* Triton's launcher contract: a compiled kernel's runner reads ``grid[0], grid[1], grid[2]``
  (so a 1-D grid raises ``IndexError`` exactly as ``CompiledKernel.__getitem__`` does) and
  takes every parameter in declaration order with a stream; arguments Triton specialized at
  compile time (an integer equal to 1 becomes a constant, 16-byte divisibility of integers
  and pointers becomes an assumption) are checked against the launch's values, where a real
  launcher would ignore them and compute garbage;
* streams are FIFO queues executed only at synchronization, with the legacy default stream's
  ordering rules (a non-blocking stream does not wait for stream 0), so a missing
  synchronization shows up as stale data;
* graph capture records the operations of the capturing stream with raw addresses only (the
  graph keeps nothing alive, like a CUDA graph); touching the legacy stream, synchronizing or
  allocating while capturing faults as CUDA's thread-local capture mode does;
* the CUDA context is per thread: copies from a thread that never made it current fault
  (CUDA_ERROR_INVALID_CONTEXT); Triton's launcher makes it current itself, as the real one does.

Kernels run through Triton's interpreter, so results are real numbers to compare against a
reference.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from cortado.runtime.devices import interpreter_bf16
from cortado.runtime.devices.cubin import CubinKernel
from cortado.runtime.devices.cuda import CudaDevice
from cortado.runtime.locks import INTERPRETER_LOCK
from cortado.runtime.devices.interpreter import HostTensor
from cortado.runtime.dtypes import numpy_dtype
from cortado.runtime.loader import load_kernels

BASE_ADDRESS = 0x7F00_0000_0000
ALIGN = 512                 # cudaMalloc returns 256-byte (or better) aligned blocks
RED_ZONE = 256
RED_BYTE = 0xA5
POISON = 0xFF
QUARANTINE_BYTES = 64 << 20  # freed blocks kept poisoned; beyond this only their range is kept

_TRITON_TO_NAME = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "fp64": "float64",
                   "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64", "u8": "uint8",
                   "u16": "uint16", "u32": "uint32", "u64": "uint64", "i1": "bool", "u1": "bool"}
_INT_RANGE = {"i32": (-2**31, 2**31 - 1), "u32": (0, 2**32 - 1), "i64": (-2**63, 2**63 - 1), "u64": (0, 2**64 - 1)}


class SimulatedFault(AssertionError):
    """What a real GPU would turn into corrupted memory, a crash or a wrong result."""


# -- memory ---------------------------------------------------------------------------------------
class _Block:
    __slots__ = ("base", "size", "data", "freed", "tag")

    def __init__(self, base, size, tag):
        self.base, self.size, self.tag, self.freed = base, size, tag, False
        self.data = np.full(size + 2 * RED_ZONE, RED_BYTE, np.uint8)
        self.data[RED_ZONE:RED_ZONE + size] = 0x7F     # uninitialized memory is NaN-ish garbage

    def view(self, offset: int, nbytes: int | None = None) -> np.ndarray:
        end = self.size if nbytes is None else offset + nbytes
        return self.data[RED_ZONE + offset:RED_ZONE + end]

    def red_zones_intact(self) -> bool:
        return bool((self.data[:RED_ZONE] == RED_BYTE).all() and (self.data[RED_ZONE + self.size:] == RED_BYTE).all())


class SimBuffer:
    """An allocation, as ``cuda.core``'s ``Buffer``: ``handle`` is its address; freed when dropped."""

    def __init__(self, memory: "SimMemory", block: _Block):
        self._memory, self._block = memory, block
        self.handle = block.base
        self.size = block.size

    def __del__(self):
        self._memory.free(self._block)


class SimMemory:
    def __init__(self):
        self._lock = threading.Lock()
        self._next = BASE_ADDRESS
        self._bases: list[int] = []
        self._blocks: list[_Block] = []
        self._quarantine: deque = deque()
        self._quarantined = 0
        self.live_bytes = 0
        self.freed_count = 0

    def alloc(self, nbytes: int, tag: str = "") -> SimBuffer:
        nbytes = max(int(nbytes), 1)
        with self._lock:
            base = self._next
            self._next += (nbytes + RED_ZONE + ALIGN - 1) // ALIGN * ALIGN + ALIGN
            block = _Block(base, nbytes, tag)
            self._bases.append(base)
            self._blocks.append(block)
            self.live_bytes += nbytes
        return SimBuffer(self, block)

    def free(self, block: _Block) -> None:
        with self._lock:
            if block.freed:
                raise SimulatedFault(f"double free of the block at {block.base:#x}")
            block.freed = True
            self.freed_count += 1
            self.live_bytes -= block.size
            block.data[RED_ZONE:RED_ZONE + block.size] = POISON
            self._quarantine.append(block)
            self._quarantined += block.size
            while self._quarantined > QUARANTINE_BYTES:
                old = self._quarantine.popleft()
                self._quarantined -= old.size
                old.data = np.zeros(0, np.uint8)

    def resolve(self, ptr: int, nbytes: int, what: str) -> tuple[_Block, int]:
        """The live block holding [ptr, ptr + nbytes), and the offset of ptr in it."""
        i = bisect.bisect_right(self._bases, ptr) - 1
        block = self._blocks[i] if i >= 0 else None
        if block is None or ptr >= block.base + block.size + RED_ZONE:
            raise SimulatedFault(f"{what}: address {ptr:#x} is not in any allocation")
        if block.freed:
            raise SimulatedFault(f"{what}: address {ptr:#x} is in a FREED allocation of {block.size} bytes "
                                 f"(use after free; the memory may belong to someone else by now)")
        offset = ptr - block.base
        if offset + nbytes > block.size:
            raise SimulatedFault(f"{what}: {nbytes} bytes at offset {offset} overrun a block of {block.size} bytes")
        return block, offset


# -- operations on a stream -----------------------------------------------------------------------
@dataclass(frozen=True)
class KernelOp:
    name: str
    fn: object                # the interpreted kernel
    grid: tuple
    args: tuple               # ("ptr", address, numpy dtype) | ("val", value), declaration order


@dataclass(frozen=True)
class CopyOp:
    kind: str                 # "htod" | "dtoh" | "dtod"
    dst: object               # an address, or a host array for dtoh
    src: object               # an address, or bytes for htod
    nbytes: int


class SimStream:
    def __init__(self, handle: int, nonblocking: bool):
        self.handle, self.nonblocking = handle, nonblocking
        self.queue: deque = deque()
        self.capture: list | None = None
        self.capture_thread = None
        self.destroyed = False

    def __int__(self):
        return self.handle


@dataclass(frozen=True)
class SimGraph:
    ops: tuple


# -- Triton's compiled kernel and launcher, as the runtime sees them -------------------------------
class SimCompiledKernel:
    """``triton.compiler.CompiledKernel``'s launch surface: ``kernel[grid](*args, stream=s)``."""

    def __init__(self, gpu: "SimulatedGpu", jit_fn, specialization: list, options: dict):
        self._gpu = gpu
        self.name = jit_fn.fn.__name__
        self.arg_names = list(jit_fn.arg_names)
        self.specialization = specialization        # [(type, attr)] per parameter, as Triton's binder
        self.options = options
        self.function = self.name
        self.packed_metadata = None

    def __getitem__(self, grid):
        def runner(*args, stream=None):
            if stream is None:
                stream = 0                            # Triton's torch-free "current stream"
            self.run(grid[0], grid[1], grid[2], stream, self.function, self.packed_metadata, None, None, None, *args)

        return runner

    def run(self, gx, gy, gz, stream, function, packed_metadata, launch_metadata, enter_hook, exit_hook, *args):
        gpu = self._gpu
        gpu._make_current_for_launcher()
        if len(args) != len(self.arg_names):
            raise SimulatedFault(f"{self.name}: the launcher got {len(args)} arguments, the kernel declares "
                                 f"{len(self.arg_names)} ({', '.join(self.arg_names)}) in this order")
        packed = []
        for name, (ty, attr), a in zip(self.arg_names, self.specialization, args):
            if ty == "constexpr":
                if not _same(a, attr):
                    raise SimulatedFault(f"{self.name}: stale specialization: the binary was compiled with "
                                         f"{name} = {attr!r} (a constant), launched with {name} = {a!r}")
                packed.append(("val", attr))
            elif ty.startswith("*"):
                ptr = a.data_ptr() if hasattr(a, "data_ptr") else int(a)
                if attr == "D" and ptr % 16:
                    raise SimulatedFault(f"{self.name}: {name} was compiled assuming 16-byte alignment; "
                                         f"launched with address {ptr:#x}")
                packed.append(("ptr", ptr, numpy_dtype(_TRITON_TO_NAME[ty[1:]])))
            else:
                _check_scalar(self.name, name, ty, attr, a)
                packed.append(("val", a))
        for g in (gx, gy, gz):
            if not isinstance(g, (int, np.integer)) or g < 0:
                raise SimulatedFault(f"{self.name}: grid {(gx, gy, gz)} is not three non-negative integers")
        gpu._enqueue(stream, KernelOp(self.name, gpu._interpreted(self.name, function), (gx, gy, gz), tuple(packed)))


def _same(a, b) -> bool:
    return a == b and type(a) is type(b) or (isinstance(a, (int, np.integer)) and isinstance(b, int) and int(a) == b)


def _check_scalar(kernel: str, name: str, ty: str, attr, a) -> None:
    if ty in _INT_RANGE:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise SimulatedFault(f"{kernel}: {name} is {ty}; launched with {type(a).__name__} {a!r}")
        lo, hi = _INT_RANGE[ty]
        if not lo <= int(a) <= hi:
            raise SimulatedFault(f"{kernel}: {name} = {a} does not fit the compiled type {ty}")
        if attr == "D" and int(a) % 16:
            raise SimulatedFault(f"{kernel}: stale specialization: {name} was compiled as divisible by 16, "
                                 f"launched with {name} = {a}")


class SimCubinKernel(CubinKernel):
    """``CubinKernel`` with its two driver calls simulated: the "binary" is the kernel of the same
    name, run through the interpreter with the constants it was built for."""

    gpu: "SimulatedGpu" = None
    constexprs: dict = {}

    def _load(self, cubin: bytes) -> None:
        if not cubin:
            from cortado.runtime.errors import TargetError

            raise TargetError("empty cubin")
        self.gpu._interpreted(self.name, self.name)    # an unknown kernel name fails as cuModuleGetFunction does

    def _launch_raw(self, grid: tuple, values: tuple, stream) -> None:
        if len(values) != len(self.types) or len(self.types) != len(self.signature) + 2:
            raise SimulatedFault(f"{self.name}: cuLaunchKernel got {len(values)} values for {len(self.types)} "
                                 f"parameters; a Triton binary takes its {len(self.signature)} non-constexpr "
                                 f"arguments and two scratch pointers")
        if values[-2:] != (0, 0):
            raise SimulatedFault(f"{self.name}: the scratch pointers must be null")
        packed, pos = [], 0
        gpu = self.gpu
        fn = gpu._interpreted(self.name, self.name)
        for name in gpu._arg_names[self.name]:
            if name in self.constexprs:
                packed.append(("val", self.constexprs[name]))
                continue
            ty, v = self.signature[pos], values[pos]
            pos += 1
            if ty.startswith("*"):
                packed.append(("ptr", int(v), numpy_dtype(_TRITON_TO_NAME[ty[1:]])))
            else:
                _check_scalar(self.name, name, ty, None, v)
                packed.append(("val", v))
        gpu._enqueue(stream, KernelOp(self.name, fn, tuple(grid), tuple(packed)))


# -- the device -----------------------------------------------------------------------------------
class SimulatedGpu(CudaDevice):
    """A ``CudaDevice`` whose driver is simulated over host memory (see the module docstring).

    ``arch`` picks which ahead-of-time cubins it adopts; ``kernel_ms`` (a function of a
    ``KernelOp`` and the compile options) is the clock ``time_ms`` reports, for autotuning."""

    name = "cuda"
    family = "cuda"

    def __init__(self, arch: str = "sm_90", kernel_ms=None, device_name: str = "Simulated H200"):
        self.arch = arch
        self.device_name = device_name
        self.memory = SimMemory()
        self.kernel_ms = kernel_ms or (lambda op: 0.01)
        self._init_launch_state()
        self._streams = {0: SimStream(0, nonblocking=False)}
        self._handles = itertools.count(1)
        self._seq = itertools.count()
        self._exec_lock = INTERPRETER_LOCK     # kernels run through Triton's interpreter
        self._current_threads = {threading.get_ident()}   # CudaDevice.__init__ makes the context current
        self._interp: dict[str, object] = {}
        self._arg_names: dict[str, list] = {}
        self._compiled: dict = {}
        self.log: list[str] = []            # every operation executed, in order: "kernel NAME", "htod", ...
        self.compiles = 0
        self.graphs_live = 0
        self._clock_ms = 0.0

    # -- kernels --------------------------------------------------------------------------------
    def load_kernels(self, source: str):
        # the loader serializes its flips of Triton's process-wide interpret switch itself
        interpreter_bf16.install()
        module = load_kernels(source, interpret=False)    # what CudaDevice launches
        interp = load_kernels(source, interpret=True)     # what actually runs
        for name in dir(module):
            fn = getattr(module, name)
            if hasattr(fn, "arg_names") and hasattr(fn, "params"):
                self._interp[name] = getattr(interp, name)
                self._arg_names[name] = list(fn.arg_names)
        return module

    def _interpreted(self, name: str, function):
        fn = self._interp.get(function)
        if fn is None:
            raise SimulatedFault(f"no kernel named {function!r} is loaded (CUDA_ERROR_NOT_FOUND)")
        return fn

    def _specialize(self, jit_fn, args: list, constexprs: dict) -> list:
        """Triton's binder: one (type, attribute) per parameter, from Triton's own specializer."""
        from triton._C.libtriton import native_specialize_impl

        spec, it = [], iter(args)
        for kp in jit_fn.params:
            if kp.is_constexpr:
                spec.append(("constexpr", constexprs[kp.name]))
                continue
            a = next(it)
            spec.append(tuple(native_specialize_impl(_backend(), a, kp.is_const, not kp.do_not_specialize,
                                                     not kp.do_not_specialize_on_alignment)))
        return spec

    def _compile(self, jit_fn, args, constexprs: dict, options: dict):
        """``JITFunction.warmup``: the compiled kernel for these arguments' specialization."""
        spec = self._specialize(jit_fn, list(args), constexprs)
        key = (jit_fn.fn.__name__, id(jit_fn), repr(spec), tuple(sorted(options.items())))
        k = self._compiled.get(key)
        if k is None:
            self.compiles += 1
            k = self._compiled[key] = SimCompiledKernel(self, jit_fn, spec, dict(options))
        return k

    def _load_cubin(self, cubin: bytes, meta: dict, signature: list[str], config: dict):
        kernel = SimCubinKernel.__new__(SimCubinKernel)
        kernel.gpu = self
        kernel.constexprs = {k: v for k, v in config.items() if k not in ("num_warps", "num_stages")}
        CubinKernel.__init__(kernel, cubin, meta, signature)
        return kernel

    # -- memory and copies ------------------------------------------------------------------------
    def _require_context(self, what: str) -> None:
        if threading.get_ident() not in self._current_threads:
            raise SimulatedFault(f"{what} from a thread with no current CUDA context (CUDA_ERROR_INVALID_CONTEXT)")

    def _make_current_for_launcher(self) -> None:
        self._current_threads.add(threading.get_ident())     # Triton's launcher ensures a context

    def _make_current(self) -> None:
        self._current_threads.add(threading.get_ident())

    def _capturing_here(self):
        me = threading.get_ident()
        return [s for s in self._streams.values() if s.capture is not None and s.capture_thread == me]

    def _allocate(self, nbytes: int):
        self._require_context("cuMemAlloc")
        if self._capturing_here():
            raise SimulatedFault("allocation while this thread captures a CUDA graph (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)")
        return self.memory.alloc(nbytes)

    def _memcpy_htod(self, dst: int, host: np.ndarray, stream) -> None:
        self._require_context("cuMemcpyHtoDAsync")
        self.memory.resolve(dst, host.nbytes, "cuMemcpyHtoDAsync")
        # pageable host memory is staged before the call returns: the bytes are taken now
        self._enqueue(stream, CopyOp("htod", dst, np.array(host, copy=True).reshape(-1).view(np.uint8), host.nbytes))

    def _memcpy_dtoh(self, host: np.ndarray, src: int, stream) -> None:
        self._require_context("cuMemcpyDtoHAsync")
        self._enqueue(stream, CopyOp("dtoh", host, src, host.nbytes))

    def _memcpy_dtod(self, dst: int, src: int, nbytes: int, stream) -> None:
        self._require_context("cuMemcpyDtoDAsync")
        self._enqueue(stream, CopyOp("dtod", dst, src, nbytes))

    # -- streams ----------------------------------------------------------------------------------
    def _stream(self, handle) -> SimStream:
        s = self._streams.get(int(handle) if handle is not None else 0)
        if s is None or s.destroyed:
            raise SimulatedFault(f"stream {handle!r} does not exist (CUDA_ERROR_INVALID_HANDLE)")
        return s

    def _enqueue(self, stream, op) -> None:
        s = self._stream(stream)
        if s.capture is not None:
            s.capture.append(op)
            return
        if s.handle == 0 and self._capturing_here():
            raise SimulatedFault("the legacy default stream was used while this thread captures a CUDA graph "
                                 "(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT)")
        with self._exec_lock:
            s.queue.append((next(self._seq), op))

    def _drain(self, streams) -> None:
        with self._exec_lock:
            while True:
                ready = [s for s in streams if s.queue]
                if not ready:
                    return
                s = min(ready, key=lambda s: s.queue[0][0])
                _, op = s.queue.popleft()
                self._execute(op)

    def synchronize(self) -> None:
        self._require_context("cuCtxSynchronize")
        if self._capturing_here():
            raise SimulatedFault("cuCtxSynchronize while this thread captures a CUDA graph "
                                 "(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)")
        self._drain(list(self._streams.values()))

    def stream_synchronize(self, stream) -> None:
        s = self._stream(stream)
        if s.capture is not None:
            raise SimulatedFault("cuStreamSynchronize on a capturing stream")
        # a blocking stream (and stream 0) waits for the legacy stream's earlier work; non-blocking ones do not
        group = [s] if s.nonblocking else [x for x in self._streams.values() if not x.nonblocking]
        self._drain(group)

    def create_stream(self, blocking: bool = False):
        self._require_context("cuStreamCreate")
        h = next(self._handles)
        self._streams[h] = SimStream(h, nonblocking=not blocking)
        return self._streams[h]

    def destroy_stream(self, stream) -> None:
        s = self._stream(stream)
        self._drain([s])
        s.destroyed = True

    # -- graphs -----------------------------------------------------------------------------------
    def begin_capture(self, stream) -> None:
        s = self._stream(stream)
        if s.handle == 0:
            raise SimulatedFault("the legacy default stream cannot be captured")
        if s.queue:
            self._drain([s])
        s.capture, s.capture_thread = [], threading.get_ident()

    def end_capture(self, stream):
        s = self._stream(stream)
        if s.capture is None:
            raise SimulatedFault("cuStreamEndCapture on a stream that is not capturing")
        graph = SimGraph(tuple(s.capture))
        s.capture, s.capture_thread = None, None
        return graph

    def instantiate_graph(self, graph):
        self.graphs_live += 1
        return SimGraph(graph.ops)

    def launch_graph(self, exec_, stream) -> None:
        s = self._stream(stream)
        if s.handle == 0 and self._capturing_here():
            raise SimulatedFault("graph launch on the legacy stream during capture")
        with self._exec_lock:
            for op in exec_.ops:
                s.queue.append((next(self._seq), op))

    def destroy_graph(self, graph, exec_) -> None:
        if exec_ is not None:
            self.graphs_live -= 1

    def time_ms(self, fn, repeats: int) -> float:
        """Run ``fn`` ``repeats`` times; the simulated clock advances by ``kernel_ms`` per kernel."""
        self.synchronize()
        start = self._clock_ms
        for _ in range(repeats):
            fn()
        self.synchronize()
        return self._clock_ms - start

    # -- execution --------------------------------------------------------------------------------
    def _execute(self, op) -> None:
        mem = self.memory
        if isinstance(op, CopyOp):
            self.log.append(op.kind)
            if op.kind == "htod":
                block, off = mem.resolve(op.dst, op.nbytes, "host-to-device copy")
                block.view(off, op.nbytes)[:] = op.src
            elif op.kind == "dtoh":
                block, off = mem.resolve(op.src, op.nbytes, "device-to-host copy")
                op.dst.reshape(-1).view(np.uint8)[:] = block.view(off, op.nbytes)
            else:
                sb, so = mem.resolve(op.src, op.nbytes, "device-to-device copy (source)")
                db, do = mem.resolve(op.dst, op.nbytes, "device-to-device copy (destination)")
                db.view(do, op.nbytes)[:] = sb.view(so, op.nbytes).copy()
            return
        self.log.append(f"kernel {op.name}")
        args, blocks = [], []
        for a in op.args:
            if a[0] == "ptr":
                block, off = mem.resolve(a[1], 1, f"kernel {op.name}")
                raw = block.view(off)
                raw = raw[: raw.size // a[2].itemsize * a[2].itemsize]
                args.append(HostTensor(raw.view(a[2])))
                blocks.append(block)
            else:
                args.append(a[1])
        if 0 not in op.grid:
            with np.errstate(all="ignore"):
                op.fn[op.grid](*args)
        for block in blocks:
            if not block.red_zones_intact():
                raise SimulatedFault(f"kernel {op.name} wrote outside the block at {block.base:#x} ({block.size} bytes)")
        self._clock_ms += float(self.kernel_ms(op))


_BACKEND = []


def _backend():
    """Triton's CUDA backend object (its specializer needs one; no GPU is touched)."""
    if not _BACKEND:
        from triton.backends.compiler import GPUTarget
        from triton.compiler import make_backend

        _BACKEND.append(make_backend(GPUTarget("cuda", 90, 32)))
    return _BACKEND[0]
