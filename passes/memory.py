"""The memory plan: which buffer holds each materialized value.

Values are *roots* (own a buffer), *aliases* (a Reshape: the same bytes read with another
shape) or *slices* (an input of a placed Concat: its producer stores into a strided box of the
concat's buffer). Liveness runs over the kernel order per root: a root's buffer is taken when
the first of its members is written and is free again after the last kernel that reads any of
them. A later root takes a free buffer of the same byte size (static sizes may take any free
buffer at least as large, growing it when none fits). Sizes may be symbolic, so buffers are
separate allocations rather than offsets into one arena. Graph inputs, constants and graph
outputs are never pooled: inputs and constants are the caller's and the model's, outputs are
handed to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cortado.ir import Graph, Value
from cortado.ir.dims import Dim

from .groups import KernelGroup, Kind


@dataclass
class Buffer:
    id: int
    nbytes: Dim


@dataclass
class Slice:
    root: str                # the value whose buffer holds this one
    offset: Dim              # in elements
    strides: tuple           # the root's row-major strides, used for this value's index


@dataclass
class MemoryPlan:
    buffers: list[Buffer] = field(default_factory=list)
    placement: dict[str, int] = field(default_factory=dict)     # root value name -> buffer id
    alias_of: dict[str, str] = field(default_factory=dict)      # value name -> value it reshapes
    slices: dict[str, Slice] = field(default_factory=dict)      # value name -> its box in a root
    in_output: dict[str, int] = field(default_factory=dict)     # root name -> graph output position
    copies: list[tuple[str, int]] = field(default_factory=list)  # (src value, graph output position), at the end

    def peak_bytes(self) -> Dim:
        total: Dim = 0
        for b in self.buffers:
            total = total + b.nbytes
        return total

    def layouts(self) -> dict[str, tuple]:
        """value name -> element strides, for values that are not contiguous boxes of their own."""
        return {name: s.strides for name, s in self.slices.items()}


def _strides(shape) -> tuple:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc = acc * d
    return tuple(reversed(out))


def plan_memory(graph: Graph, groups: list[KernelGroup], reuse: bool = True) -> MemoryPlan:
    plan = MemoryPlan()
    by_name: dict[str, Value] = {v.name: v for v in graph.values()}
    outputs = {id(v) for v in graph.outputs}
    fixed = {id(v) for v in graph.inputs} | {id(v) for v in graph.constants.values()}

    parent: dict[str, str] = {}
    for g in groups:
        node = g.nodes[0]
        if g.kind is Kind.ALIAS:
            plan.alias_of[node.outputs[0].name] = node.inputs[0].name
            parent[node.outputs[0].name] = node.inputs[0].name
        elif g.kind is Kind.PLACED:
            for v in node.inputs:
                if v is not None:
                    parent[v.name] = node.outputs[0].name

    def root(name: str) -> str:
        while name in parent:
            name = parent[name]
        return name

    _place_slices(plan, groups, by_name, root)

    # graph outputs: write the root straight into the output buffer when that is unambiguous
    for pos, v in enumerate(graph.outputs):
        r = root(v.name)
        rv = by_name[r]
        if id(rv) in fixed or r in plan.in_output or (v.name != r and id(rv) in outputs) or v.name in plan.slices:
            plan.copies.append((v.name, pos))
            continue
        plan.in_output[r] = pos

    last_use: dict[str, int] = {}
    for i, g in enumerate(groups):
        if g.kind in (Kind.ALIAS, Kind.PLACED):
            continue
        inside = {id(n) for n in g.nodes}
        for n in g.nodes:
            for v in n.inputs:
                if v is not None and (v.producer is None or id(v.producer) not in inside):
                    last_use[root(v.name)] = i
    for src, _ in plan.copies:
        last_use[root(src)] = len(groups)

    free: list[Buffer] = []
    live: dict[str, Buffer] = {}
    for i, g in enumerate(groups):
        if g.kind in (Kind.ALIAS, Kind.PLACED):
            continue
        for v in g.outputs:
            r = root(v.name)
            if r in plan.in_output or r in plan.placement or id(by_name[r]) in fixed:
                continue
            need = by_name[r].type.nbytes
            buf = _take(free, need) if reuse else None
            if buf is None:
                buf = Buffer(len(plan.buffers), need)
                plan.buffers.append(buf)
            plan.placement[r] = buf.id
            live[r] = buf
        for r, buf in list(live.items()):
            if last_use.get(r, -1) <= i:
                free.append(buf)      # no later kernel reads it (a value never read is freed at once)
                del live[r]
    return plan


def _place_slices(plan: MemoryPlan, groups, by_name, root) -> None:
    """Offsets and strides of concat inputs inside their root buffer, outermost first."""
    placed = [g.nodes[0] for g in groups if g.kind is Kind.PLACED]
    for node in reversed(placed):       # outer concats come later in topological order
        out = node.outputs[0]
        r = root(out.name)
        strides = _strides(by_name[r].shape)
        base = plan.slices[out.name].offset if out.name in plan.slices else 0
        axis = node.attrs.axis % out.type.rank
        start: Dim = 0
        for v in node.inputs:
            if v is None:
                continue
            plan.slices[v.name] = Slice(r, base + start * strides[axis], strides)
            start = start + v.shape[axis]


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
