"""Kernel templates: one file per kernel kind, each registering one ``Template``.

A template (see ``cortado.kernel_groups.Template``) declares what anchors it, which epilogues,
prologues and siblings it can absorb (None or a reason), its typed roles, and renders a group
into a ``KernelSource`` (source, launch grid, launch configs per target). The fusion driver
(``cortado.passes.fusion``) asks the registered templates; ``generate_kernel`` renders a group
with its kind's template. Importing this package registers every kind, so the modules below
are imported for that effect; adding a kind is one new module here plus its line below
(``docs/adding-a-template.md``).
"""

from __future__ import annotations

from cortado.ir import Op
from cortado.kernel_groups import Kind, KernelGroup

from .. import views, windows  # noqa: F401  (register the INDEX lowerings: views, windows)
from ..writer import LAYOUTS, KernelSource
from . import (attention, conv, conv_transpose, gemm, host, pointwise, reduction, scan,  # noqa: F401  (registration)
               scatter, shape)
from .base import OpTemplate

__all__ = ["Kind", "generate_kernel", "has_generator"]


def generate_kernel(group: KernelGroup, layouts: dict | None = None) -> KernelSource:
    """The kernel of ``group``, rendered by its kind's template. ``layouts``: value name ->
    element strides for values stored as boxes of a placed Concat's buffer."""
    token = LAYOUTS.set(dict(layouts or {}))
    try:
        return group.kind.generate(group)
    finally:
        LAYOUTS.reset(token)


def has_generator(op: Op) -> bool:
    """Is ``op`` rendered by a template of its own (scan, scatter, shape, conv-transpose)?"""
    return any(isinstance(t, OpTemplate) and op in t.generators for t in Kind)
