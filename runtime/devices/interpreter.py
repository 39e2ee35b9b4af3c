"""The interpreter device: numpy host buffers, kernels run by Triton's interpreter.

Triton's interpreter expects torch-like tensors; ``HostTensor`` is the few methods it calls,
backed by a numpy array, so no torch is needed.

Threads: Triton's interpreter keeps the state of the kernel it is running in module-level
objects — while a kernel runs it replaces the builtins of ``triton.language`` (``tl.load``,
``tl.program_id``, ...) with interpreted ones and restores them afterwards, and the grid size
and program index live on its one ``interpreter_builder`` (``triton/runtime/interpreter.py``:
``GridExecutor.__call__``, ``_patch_lang``). Two kernels interpreted at once in one process
see each other's patches and grid ("Did you forget to add @triton.jit?", "x >= grid_dim[0]")
or silently compute with the other's program ids. So every interpreted launch in the process
holds ``INTERPRETER_LOCK`` (``runtime/locks.py``, which lists all it guards); everything else a
run does (checking inputs, allocating, copying outputs) runs outside it, concurrently. For
parallel interpreter runs use processes: each has its own interpreter.
"""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np

from ..dtypes import numpy_dtype
from ..loader import load_kernels
from ..locks import INTERPRETER_LOCK
from . import interpreter_bf16, interpreter_dtype_cache, interpreter_memory
from .blas_threads import one_blas_thread

__all__ = ["HostTensor", "INTERPRETER_LOCK", "InterpreterDevice"]


class HostTensor:
    """A numpy array as Triton's interpreter sees a tensor: a data pointer and a dtype."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array

    @property
    def dtype(self):
        return self.array.dtype

    def data_ptr(self) -> int:
        return self.array.ctypes.data

    # The interpreter copies "device" tensors to the host and back; ours already are.
    def untyped_storage(self):
        return self

    def cpu(self):
        return self

    def storage_offset(self) -> int:
        return 0

    def size(self):
        return self.array.shape

    def stride(self):
        return tuple(s // self.array.itemsize for s in self.array.strides)

    def new_empty(self, *args, **kwargs):
        return self

    def set_(self, *args, **kwargs):
        return self

    def copy_(self, other):
        return self


class InterpreterDevice:
    name = "interpreter"
    family = "interpreter"

    def load_kernels(self, source: str):
        with INTERPRETER_LOCK:           # never patch the interpreter under a running kernel
            interpreter_bf16.install()   # bfloat16 dots and roundings as on a GPU
            interpreter_memory.install() # whole-tile loads and stores instead of an element loop
            interpreter_dtype_cache.install()   # one type table, not one per operation
        return load_kernels(source, interpret=True)

    def alloc(self, nbytes: int) -> np.ndarray:
        return np.empty(max(int(nbytes), 1), dtype=np.uint8)

    def view(self, buf: np.ndarray, dtype: str, shape) -> HostTensor:
        dt = numpy_dtype(dtype)
        n = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
        return HostTensor(buf[: n * dt.itemsize].view(dt).reshape(shape))

    def from_host(self, array: np.ndarray) -> HostTensor:
        return HostTensor(np.asarray(array, order="C"))

    def empty(self, dtype: str, shape) -> HostTensor:
        return HostTensor(np.empty(shape, dtype=numpy_dtype(dtype)))

    def reshape(self, t: HostTensor, shape) -> HostTensor:
        return HostTensor(t.array.reshape(shape))

    def offset_view(self, t: HostTensor, offset: int) -> HostTensor:
        """The buffer from element ``offset`` on (kernels index it with their own strides)."""
        return HostTensor(t.array.reshape(-1)[offset:])

    def to_host(self, t: HostTensor) -> np.ndarray:
        return t.array

    def copy(self, dst: HostTensor, src: HostTensor, stream=None) -> None:
        np.copyto(dst.array.reshape(-1), src.array.reshape(-1))

    def launch(self, launch, stream=None) -> None:
        # NaN and Inf in the data are values like any other (as on a GPU): numpy's "invalid value"
        # warnings from inside the interpreted kernel would only be noise
        with INTERPRETER_LOCK, np.errstate(all="ignore"), _without_overflow_checks(), one_blas_thread():
            launch.kernel[launch.grid](*launch.args, **launch.constexprs)

    def synchronize(self) -> None:
        pass       # launches run to completion on the calling thread


@contextlib.contextmanager
def _without_overflow_checks():
    """Run a kernel without the interpreter's int32 overflow checks (restored afterwards).

    Triton's interpreter checks every 32-bit integer add, sub and mul of a kernel by redoing it
    in int64 and asserting the result fits: some five extra whole-tile numpy operations per
    index operation, about 40% of a ResNet-18 run. GPU builds do not check (outside Triton's
    debug mode), and a plan never holds a tensor past the kernels' 32-bit offsets
    (``runtime/limits.py``), so the interpreter computes what the GPU computes without them.
    Call under ``INTERPRETER_LOCK``: the options live on the interpreter's one builder."""
    try:
        from triton.runtime import interpreter as ti
        builder = ti.interpreter_builder
        old = builder.options
        new = dataclasses.replace(old, sanitize_overflow=False)
    except (ImportError, AttributeError, TypeError):     # a Triton without these options
        yield
        return
    builder.options = new
    try:
        yield
    finally:
        builder.options = old
