"""The memory plan: which buffer holds each materialized value.

Liveness runs over the kernel order. A value's buffer is free again after the last kernel
that reads it; a later value takes a free buffer of the same byte size (static sizes may take
any free buffer at least as large, growing it when none fits). Sizes may be symbolic, so
buffers are separate allocations rather than offsets into one arena. Graph inputs, constants
and graph outputs are never pooled: inputs and constants are the caller's and the model's,
outputs are handed to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.ir import Graph, Value
from compiler.ir.dims import Dim

from .groups import KernelGroup, Kind


@dataclass
class Buffer:
    id: int
    nbytes: Dim


@dataclass
class MemoryPlan:
    buffers: list[Buffer] = field(default_factory=list)
    placement: dict[str, int] = field(default_factory=dict)     # value name -> buffer id
    alias_of: dict[str, str] = field(default_factory=dict)      # value name -> base value name
    in_output: dict[str, int] = field(default_factory=dict)     # value name -> graph output position it is written to
    copies: list[tuple[str, int]] = field(default_factory=list)  # (src value, graph output position), run at the end

    def peak_bytes(self, env=None) -> Dim:
        total: Dim = 0
        for b in self.buffers:
            total = total + b.nbytes
        return total


def _base(plan: MemoryPlan, name: str) -> str:
    while name in plan.alias_of:
        name = plan.alias_of[name]
    return name


def plan_memory(graph: Graph, groups: list[KernelGroup], reuse: bool = True) -> MemoryPlan:
    plan = MemoryPlan()
    outputs = {id(v) for v in graph.outputs}
    fixed = {id(v) for v in graph.inputs} | {id(v) for v in graph.constants.values()}

    for g in groups:
        if g.kind is Kind.ALIAS:
            node = g.nodes[0]
            plan.alias_of[node.outputs[0].name] = node.inputs[0].name

    by_name: dict[str, Value] = {v.name: v for v in graph.values()}
    # last kernel index that reads each base buffer
    last_use: dict[str, int] = {}
    for i, g in enumerate(groups):
        if g.kind is Kind.ALIAS:
            continue
        inside = {id(n) for n in g.nodes}
        for n in g.nodes:
            for v in n.inputs:
                if v is not None and (v.producer is None or id(v.producer) not in inside):
                    last_use[_base(plan, v.name)] = i
    # a base that flows into a graph output through aliases must live in that output
    out_bases = plan.in_output
    for pos, v in enumerate(graph.outputs):
        base = _base(plan, v.name)
        bv = by_name[base]
        if id(bv) in fixed or base in out_bases or (v.name != base and id(bv) in outputs):
            plan.copies.append((base, pos))
            continue
        out_bases[base] = pos

    free: list[Buffer] = []
    in_use: dict[str, Buffer] = {}
    for i, g in enumerate(groups):
        if g.kind is Kind.ALIAS:
            continue
        for v in g.outputs:
            if v.name in out_bases:
                continue
            need = v.type.nbytes
            buf = _take(free, need) if reuse else None
            if buf is None:
                buf = Buffer(len(plan.buffers), need)
                plan.buffers.append(buf)
            plan.placement[v.name] = buf.id
            in_use[v.name] = buf
        for name, buf in list(in_use.items()):
            if last_use.get(name, -1) <= i and name not in out_bases:
                # free once no later kernel reads it (values never read are freed at once)
                free.append(buf)
                del in_use[name]
    return plan


def _take(free: list[Buffer], need: Dim) -> Buffer | None:
    if isinstance(need, int):
        fits = [b for b in free if isinstance(b.nbytes, int) and b.nbytes >= need]
        if fits:
            best = min(fits, key=lambda b: b.nbytes)
            free.remove(best)
            return best
        statics = [b for b in free if isinstance(b.nbytes, int)]
        if statics:
            best = max(statics, key=lambda b: b.nbytes)
            free.remove(best)
            best.nbytes = need
            return best
        return None
    for b in free:
        if b.nbytes == need:
            free.remove(b)
            return b
    return None
