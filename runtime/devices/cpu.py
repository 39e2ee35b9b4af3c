"""The cpu device: the plan's numpy kernels (``plan["cpu"]``), run on host buffers.

The compiler renders every launch of a plan a second time as a numpy function (convolutions
as windows + one matmul, epilogues as ufuncs over whole tensors; ``cortado.codegen.cpu``).
This device runs those with numpy alone: no Triton, no compiler. A launch the compiler could
not express in numpy has no ``step["cpu"]``; it runs its Triton kernel on Triton's interpreter
over the same buffers (``InterpreterDevice``: host arrays either way), which then needs
triton installed.

Threads: the numpy kernels hold no shared state (each call has its own buffers), and
numpy's BLAS and ufuncs release the GIL, so concurrent calls run in parallel. Interpreted
launches still serialize on ``INTERPRETER_LOCK``.
"""

from __future__ import annotations

import hashlib
import math
import types

import numpy as np

from ..dtypes import numpy_dtype
from ..loader import cache_dir, write_atomic
from .interpreter import HostTensor, InterpreterDevice

__all__ = ["CpuDevice"]

_MODULES: dict[str, dict] = {}


def load_cpu_source(source: str) -> dict:
    """The namespace of the generated numpy module, executed once per process and source.
    The source is written to the cache folder first, so tracebacks show its lines."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    ns = _MODULES.get(digest)
    if ns is None:
        path = cache_dir() / "kernels" / f"cpu_{digest}.py"
        if not path.exists() or path.read_text() != source:
            write_atomic(path, source.encode())
        ns = {"__name__": f"cortado_cpu_{digest}", "__file__": str(path)}
        exec(compile(source, str(path), "exec"), ns)
        _MODULES[digest] = ns
    return ns


class _Kernels:
    """Both kinds of kernels by name: numpy functions first, then the Triton module's."""

    def __init__(self, numpy_ns: dict, triton_module):
        self._ns = numpy_ns
        self._triton = triton_module

    def __getattr__(self, name):
        fn = self._ns.get(name)
        if fn is not None:
            return fn
        if self._triton is None:
            raise AttributeError(name)
        return getattr(self._triton, name)


class CpuDevice(InterpreterDevice):
    name = "cpu"
    family = "cpu"

    def load_plan(self, plan: dict, source: str) -> _Kernels:
        """The kernels of ``plan``: its numpy module, plus the Triton module when some launch
        has no numpy form (every launch of a plan saved before the cpu target existed)."""
        cpu = plan.get("cpu") or {}
        ns = load_cpu_source(cpu["source"]) if cpu.get("source") else {}
        # host steps (data-dependent sizes) run on the host on every device
        interpreted = any("cpu" not in s and "host" not in s for s in plan["steps"])
        return _Kernels(ns, self.load_kernels(source) if interpreted else None)

    def view(self, buf: np.ndarray, dtype: str, shape) -> HostTensor:
        # per value per call: math.prod, not np.prod (whose dispatch costs more than the view)
        dt = numpy_dtype(dtype)
        return HostTensor(buf[: math.prod(shape) * dt.itemsize].view(dt).reshape(shape))

    def plan_step(self, i: int, step: dict) -> dict:
        """What launch ``i`` runs here: its numpy function, or its Triton kernel interpreted.
        Derived from the step alone: one device may serve several plans (a model and the
        bodies of its run-time If/Loop)."""
        if "cpu" in step:
            return step["cpu"]
        return dict(step, configs={"cpu": step["configs"]["interpreter"]})

    def launch(self, launch, stream=None) -> None:
        if isinstance(launch.kernel, types.FunctionType):
            args = [a.array if isinstance(a, HostTensor) else a for a in launch.args]
            with np.errstate(all="ignore"):     # NaN and Inf are values like any other
                launch.kernel(*args)
        else:
            super().launch(launch, stream)
