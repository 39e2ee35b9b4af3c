"""From an optimized graph to kernels and buffers: fusion's stages, then the memory plan, all
through the pass manager.

Like the graph passes, each stage is timed (its row joins ``CompiledModel.stats["passes"]``,
with kernels counted in the node columns), can be skipped by name (``disable``) and dumped
(``dump_after``): ``STAGES`` lists the names. Skipping ``memory_plan`` plans buffers without
reuse (every value its own buffer), which is what the plan's reuse is checked against.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable

from cortado.ir import Graph
from cortado.kernel_groups import KernelGroup

from . import fusion
from .manager import NamedPass, PassManager
from .memory import MemoryPlan, plan_memory

STAGES = (*fusion.STAGES, "memory_plan")


@dataclass
class _Buffers:
    graph: Graph
    groups: list[KernelGroup]
    reuse: bool
    plan: MemoryPlan | None = field(default=None)

    def __len__(self) -> int:
        return len(self.groups)


def _memory_plan(state: _Buffers) -> bool:
    """Liveness over the kernel order, buffer reuse and in-place writes (``passes.memory``)."""
    state.plan = plan_memory(state.graph, state.groups, reuse=state.reuse)
    return state.reuse


def plan_kernels(graph: Graph, *, fuse: bool, reuse: bool, disable: Iterable[str] = (),
                 dump_after: Iterable[str] = (), dump: Callable[[str, str], None] | None = None
                 ) -> tuple[list[KernelGroup], MemoryPlan, list[dict]]:
    """The kernel groups (fused when ``fuse``), their memory plan (buffers reused when
    ``reuse``) and the stages' rows for the per-pass table."""
    disable, dump_after = set(disable), set(dump_after)
    rows: list[dict] = []
    if fuse:
        groups = fusion.partition(graph, fuse, disable=disable, dump_after=dump_after, dump=dump, table=rows)
    else:
        groups = fusion.partition(graph, fuse)
    state = _Buffers(graph, groups, reuse)
    rows += PassManager([NamedPass("memory_plan", _memory_plan)], disable=disable, dump_after=dump_after,
                        dump=lambda name, s: _show(dump, name, s)).run(state)
    if state.plan is None:                     # memory_plan disabled: one buffer per value
        state.plan = plan_memory(graph, groups, reuse=False)
    return groups, state.plan, rows


def _show(dump: Callable[[str, str], None] | None, name: str, state: _Buffers) -> None:
    text = f"peak {state.plan.peak_bytes()} bytes over {len(state.groups)} groups"
    if dump is not None:
        dump(name, text)
    else:
        print(f"// memory plan after {name}\n{text}", file=sys.stderr)
