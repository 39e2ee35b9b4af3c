"""Where a compiled model runs: ``interpreter`` (numpy on the CPU) or ``cuda`` (a GPU)."""

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
    """("cuda" | "interpreter", why) for a requested target: a name, or a device instance."""
    if not isinstance(target, str) and hasattr(target, "launch"):
        return target.name, f"given device {type(target).__name__}"
    if target == "interpreter":
        return "interpreter", "requested"
    if target == "cuda":
        if not cuda_available():
            raise TargetError("target 'cuda' needs an NVIDIA GPU, its driver and cuda-core "
                              "(pip install 'cortado[cuda]')", hint="use target='interpreter' or 'auto'")
        return "cuda", "requested"
    if target == "auto":
        if cuda_available():
            return "cuda", "auto: a CUDA GPU is usable"
        return "interpreter", "auto: no usable CUDA GPU, running kernels with Triton's CPU interpreter"
    raise TargetError(f"unknown target {target!r}", hint="use 'cuda', 'interpreter' or 'auto'")


def get_device(target):
    """The device for a target name, or ``target`` itself when it is a device instance (a test
    device with ``CudaDevice``'s interface, such as a simulated GPU)."""
    if not isinstance(target, str) and hasattr(target, "launch"):
        return target
    if target == "interpreter":
        from .interpreter import InterpreterDevice

        return InterpreterDevice()
    if target == "cuda":
        from .cuda import CudaDevice

        return CudaDevice()
    raise TargetError(f"unknown target {target!r}")
