"""Dispatch a kernel group to the generator of its kind."""

from __future__ import annotations

from cortado.passes.groups import KernelGroup, Kind

from . import views, windows  # noqa: F401  (register view and window lowerings)
from .kernels import attention, conv, gemm, pointwise, reduction
from .writer import LAYOUTS, KernelSource

_SPECIAL: dict = {}


def special(*ops):
    """Register a generator for ops with kernels of their own (scan, scatter, shape, ...)."""
    def deco(fn):
        for op in ops:
            _SPECIAL[op] = fn
        return fn
    return deco


def has_generator(op) -> bool:
    return op in _SPECIAL


def generate_kernel(group: KernelGroup, layouts: dict | None = None) -> KernelSource:
    token = LAYOUTS.set(dict(layouts or {}))
    try:
        return _generate(group)
    finally:
        LAYOUTS.reset(token)


def _generate(group: KernelGroup) -> KernelSource:
    if group.kind is Kind.POINTWISE:
        return pointwise.generate(group.nodes, group.outputs)
    if group.kind is Kind.REDUCTION:
        return reduction.generate(group.nodes, group.anchor, group.outputs)
    if group.kind is Kind.GEMM:
        return gemm.generate(group.nodes, group.anchor, group.outputs)
    if group.kind is Kind.CONV:
        return conv.generate(group.nodes, group.anchor, group.outputs, **group.roles)
    if group.kind is Kind.ATTENTION:
        return attention.generate(group.nodes, group.anchor, group.outputs, **group.roles)
    if group.kind is Kind.SPECIAL:
        fn = _SPECIAL.get(group.anchor.op)
        if fn is None:
            raise NotImplementedError(f"no kernel generator for {group.anchor.op.value}")
        return fn(group.nodes, group.anchor, group.outputs)
    raise ValueError(f"group kind {group.kind} has no kernel")


# generators of ops with kernels of their own register themselves with @special
from .kernels import conv_transpose, scan, scatter, shape  # noqa: E402,F401
