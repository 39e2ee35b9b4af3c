"""Where a compiled model runs: ``cpu`` (the plan's numpy kernels), ``interpreter`` (the
Triton kernels on Triton's CPU interpreter) or ``cuda`` (a GPU).

A device is what ``CompiledModel`` runs through; every device has:

    name, family                  target name; the key of the plan's per-target configs
    load_kernels(source)          the generated module, with kernels for this device
    alloc(nbytes) / view / reshape / offset_view / empty
                                  buffers and typed views of them
    from_host(a) / to_host(t)     inputs in, outputs out (to_host returns a finished array)
    copy(dst, src, stream)        device-to-device copy
    launch(launch, stream)        one kernel launch of the plan
    synchronize()                 wait for all of this device's work

One model is called from many threads at once, so a device must allow calls from any thread.
What cannot run concurrently on it is serialized inside the device (the interpreter's
launches, behind ``interpreter.INTERPRETER_LOCK``). Devices with streams add:

    enter_thread()                make the device usable from the calling thread (cuda: its
                                  context becomes current there); called at the start of a run
    new_stream()                  a stream for one call (``int()`` gives the handle launches
                                  take), created with each buffer set and lent with it
    sync_stream(handle)           wait for the work of one stream; a buffer set goes back to
                                  the pool only after its stream is synchronized
    cuda_graphs()                 a model's CUDA graphs (``cuda_graph.CudaGraphs``): one per
                                  size environment, each bound to buffers it owns
                                  (``model.allocate_buffers``), replays serialized per graph
"""

from __future__ import annotations

import os

from ..errors import TargetError


def cuda_available() -> bool:
    """A usable NVIDIA GPU with a working driver and cuda.core installed."""
    if os.environ.get("CORTADO_DISABLE_CUDA"):
        return False
    try:
        from .cuda import probe
    except ImportError:
        return False
    return probe()


def resolve_target(target) -> tuple[str, str]:
    """("cuda" | "cpu" | "interpreter", why) for a requested target: a name, or a device instance."""
    if not isinstance(target, str) and hasattr(target, "launch"):
        return target.name, f"given device {type(target).__name__}"
    if target in ("interpreter", "cpu"):
        return target, "requested"
    if target == "cuda":
        if not cuda_available():
            raise TargetError("target 'cuda' needs an NVIDIA GPU, its driver and cuda-core "
                              "(pip install 'cortado[cuda]')", hint="use target='cpu' or 'auto'")
        return "cuda", "requested"
    if target == "auto":
        if cuda_available():
            return "cuda", "auto: a CUDA GPU is usable"
        return "cpu", "auto: no usable CUDA GPU, running the numpy kernels on the CPU"
    raise TargetError(f"unknown target {target!r}", hint="use 'cuda', 'cpu', 'interpreter' or 'auto'")


def get_device(target):
    """The device for a target name, or ``target`` itself when it is a device instance (a test
    device with ``CudaDevice``'s interface, such as a simulated GPU)."""
    if not isinstance(target, str) and hasattr(target, "launch"):
        return target
    if target == "interpreter":
        from .interpreter import InterpreterDevice

        return InterpreterDevice()
    if target == "cpu":
        from .cpu import CpuDevice

        return CpuDevice()
    if target == "cuda":
        from .cuda import CudaDevice

        return CudaDevice()
    raise TargetError(f"unknown target {target!r}")
