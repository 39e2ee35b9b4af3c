"""Layout assignment: choose channels-first (NCHW) or channels-last (NHWC) storage per region
by a minimum cut over a networkx view of the graph.

The IR's semantics are NCHW: Conv, pooling, batch norm and the other *anchors* read and write
channels-first tensors. Channels-last appears as explicit Transposes — exporters from NHWC
frameworks leave ``Transpose(0,2,3,1)`` / ``Transpose(0,3,1,2)`` pairs around every layer,
with elementwise work in between. Between anchors, elementwise ops (and Softmax, Concat) are
layout-agnostic: they compute the same function in either storage order.

**Frames.** Every rank-r (r >= 3) value in a region has a frame: NCHW or NHWC, what its IR
axes mean. Anchors fix NCHW; a channels-last transpose flips the frame; agnostic ops keep
it. A region whose frames contradict each other is left alone.

**Cost model.** Each value also gets a *physical* layout P (how it is stored). Converting
costs one transpose of the value: across a region transpose whose ends are stored
differently, into an agnostic op stored differently from its input, and at the region's
boundary (graph inputs and outputs, anchors, any other op), which must see P = frame.
Capacities are lexicographic — the number of transposes first, then bytes moved, then a
tie-breaker for leaving a value as it is — so the minimum s-t cut (networkx) never needs
more transposes than the graph had, and keeps the graph when nothing improves.

**Rewrite.** Agnostic ops whose P differs from their frame are rebuilt in the other storage
order (constants permuted at compile time as new constants; Softmax/Concat axes remapped);
conversions are explicit Transposes, created once per value and layout; finally adjacent
transposes are composed, so no two transposes that cancel are left behind.

What codegen would need for more: anchors are NCHW-only today, so every cut lies on region
transposes or boundaries and the pass can only remove transposes. A channels-last Conv
template (implicit GEMM with C innermost, which tensor cores prefer) would let anchors accept
NHWC at a lower cost; adding that cost per anchor here is all the pass needs, and then it
adds at most one transpose per region boundary. Codegen reads a Transpose feeding a kernel as
index math, so the bytes counted here are an upper bound on what a conversion really moves.
"""

from __future__ import annotations

from collections import deque

import networkx as nx
import numpy as np

from cortado.ir import Graph, Node, Op, Value
from cortado.ir.dims import representative_sizes
from cortado.ops import Category, apply, get_op

from .rewrite import compose_perms, nbytes_estimate, remove_if_dead, replace_result

ANCHORS = frozenset({Op.CONV, Op.CONV_TRANSPOSE, Op.MAX_POOL, Op.AVERAGE_POOL, Op.LP_POOL, Op.LRN,
                     Op.GLOBAL_AVERAGE_POOL, Op.GLOBAL_MAX_POOL, Op.BATCH_NORMALIZATION,
                     Op.INSTANCE_NORMALIZATION, Op.DEPTH_TO_SPACE, Op.SPACE_TO_DEPTH})


def to_last(rank: int) -> tuple[int, ...]:
    """NCHW -> NHWC for any rank >= 3: (0, 2, ..., r-1, 1)."""
    return (0, *range(2, rank), 1)


def to_first(rank: int) -> tuple[int, ...]:
    """NHWC -> NCHW: (0, r-1, 1, ..., r-2)."""
    return (0, rank - 1, *range(1, rank - 1))


def _convert_perm(rank: int, layout: int) -> tuple[int, ...]:
    return to_last(rank) if layout == 1 else to_first(rank)


def _is_var(v: Value | None) -> bool:
    return v is not None and v.const is None and v.type.rank >= 3


def _region_transpose(node: Node) -> bool:
    if node.op is not Op.TRANSPOSE or not _is_var(node.inputs[0]):
        return False
    perm, rank = tuple(node.attrs.perm), node.inputs[0].type.rank
    return perm in (to_last(rank), to_first(rank))


def _agnostic(node: Node) -> bool:
    """Computes the same function in either storage order (given permuted operands)."""
    if len(node.outputs) != 1 or not _is_var(node.output):
        return False
    cat = get_op(node.op).category
    if node.op not in (Op.SOFTMAX, Op.LOG_SOFTMAX, Op.CONCAT) and (
            cat is not Category.ELEMENTWISE or node.op in ANCHORS):
        return False
    rank, main = node.output.type.rank, 0
    for v in node.inputs:
        if v is None:
            continue
        if v.const is not None:
            if v.type.rank > rank:
                return False
        elif v.type.rank == rank:
            main += 1
        elif not all(d == 1 for d in v.shape):
            return False      # a lower-rank tensor that broadcasts by position
    return main > 0 and (node.op is not Op.PRELU or node.inputs[0].type.rank == rank)


def _frames(graph: Graph, region: list[Node]) -> dict[int, int]:
    """Frame (0 NCHW, 1 NHWC) of every value in a consistent region, by id."""
    links: dict[int, list[tuple[int, int]]] = {}
    seeds: dict[int, set[int]] = {}
    members: dict[int, Value] = {}

    def link(a: Value, b: Value, flip: int) -> None:
        members[id(a)], members[id(b)] = a, b
        links.setdefault(id(a), []).append((id(b), flip))
        links.setdefault(id(b), []).append((id(a), flip))

    for n in region:
        if n.op is Op.TRANSPOSE:
            x, y = n.inputs[0], n.output
            link(x, y, 1)
            if x.type.rank > 3:   # rank 3's (0,2,1) flips either way; longer perms have a side
                last = tuple(n.attrs.perm) == to_last(x.type.rank)
                seeds.setdefault(id(x), set()).add(0 if last else 1)
                seeds.setdefault(id(y), set()).add(1 if last else 0)
        else:
            for v in n.inputs:
                if _is_var(v) and v.type.rank == n.output.type.rank:
                    link(v, n.output, 0)
    for n in graph.nodes:
        if n.op in ANCHORS:
            for v in (n.inputs[0], n.outputs[0]):
                if id(v) in members:
                    seeds.setdefault(id(v), set()).add(0)

    frames: dict[int, int] = {}
    done: set[int] = set()
    for v in graph.values():                      # the IR's order: deterministic
        if id(v) not in members or id(v) in done:
            continue
        comp = _component(id(v), links)
        done |= comp
        seeded = [k for k in comp if k in seeds]
        start = seeded[0] if seeded else id(v)
        for guess in ([min(seeds[start])] if seeded else [0, 1]):
            found = _propagate(start, guess, links, seeds)
            if found is not None:
                frames.update(found)
                break
    return frames


def _component(start: int, links) -> set[int]:
    seen, queue = {start}, deque([start])
    while queue:
        for w, _ in links.get(queue.popleft(), ()):
            if w not in seen:
                seen.add(w)
                queue.append(w)
    return seen


def _propagate(start: int, guess: int, links, seeds) -> dict[int, int] | None:
    """Frames for a component from ``start`` = ``guess``; None on a contradiction."""
    frames, queue = {start: guess}, deque([start])
    while queue:
        k = queue.popleft()
        if seeds.get(k, {frames[k]}) != {frames[k]}:
            return None
        for w, flip in links.get(k, ()):
            want = frames[k] ^ flip
            if w in frames:
                if frames[w] != want:
                    return None
            else:
                frames[w] = want
                queue.append(w)
    return frames


def _storage(graph: Graph, region: list[Node], frames: dict[int, int]) -> dict[int, int]:
    """Physical layout per region value by a minimum s-t cut (source side: NCHW). Network
    nodes are the values' positions in the IR, so the cut never depends on object ids."""
    values = [v for v in graph.values() if id(v) in frames]
    pos = {id(v): i for i, v in enumerate(values)}
    w2 = len(values) + 1                                        # one byte outweighs every tie-breaker
    sizes = representative_sizes(v.shape for v in graph.inputs)
    w1 = (sum(nbytes_estimate(v, sizes) for v in values) + 1) * w2    # one transpose outweighs every byte
    net = nx.DiGraph()
    net.add_nodes_from(["S", "T", *range(len(values))])

    def both(a, b, cap):
        for u, w in ((a, b), (b, a)):
            old = net.get_edge_data(u, w, {"capacity": 0})["capacity"]
            net.add_edge(u, w, capacity=old + cap)

    def to_frame(v: Value, cap: int):
        both("S" if frames[id(v)] == 0 else "T", pos[id(v)], cap)

    inside = {id(n) for n in region}
    for v in values:
        to_frame(v, 1)                                          # tie-breaker: leave as it is
        produced_outside = v.producer is None or id(v.producer) not in inside
        used_outside = v.is_graph_output or any(id(u) not in inside for u in v.users)
        for outside in (produced_outside, used_outside):
            if outside:
                to_frame(v, w1 + w2 * nbytes_estimate(v, sizes))
    for n in region:
        if n.op is Op.TRANSPOSE:
            both(pos[id(n.inputs[0])], pos[id(n.output)], w1 + w2 * nbytes_estimate(n.inputs[0], sizes))
            continue
        for v in n.inputs:
            if _is_var(v) and v.type.rank == n.output.type.rank:
                both(pos[id(v)], pos[id(n.output)], w1 + w2 * nbytes_estimate(v, sizes))
    _, (source_side, _) = nx.minimum_cut(net, "S", "T")
    return {id(v): 0 if pos[id(v)] in source_side else 1 for v in values}


class _Rewriter:
    """Rebuilds the region for the chosen storage; ``form(v, l)`` is v's data stored in l."""

    def __init__(self, graph: Graph, frames: dict[int, int], store: dict[int, int]):
        self.graph, self.frames, self.store = graph, frames, store
        self.forms: dict[tuple[int, int], Value] = {}

    def form(self, v: Value, layout: int, before: Node | None) -> Value:
        key = (id(v), layout)
        if key not in self.forms:
            if id(v) not in self.frames:
                return v
            base = self.forms.get((id(v), 1 - layout))
            if base is None:        # produced outside the region, in its frame
                if self.frames[id(v)] == layout:
                    return v
                base = v
            perm = _convert_perm(v.type.rank, layout)
            t = apply(self.graph, Op.TRANSPOSE, [base], perm=perm, before=before, name=f"{v.name}_layout")
            self.forms[key] = t.output
        return self.forms[key]

    def bring_constant(self, c: Value, rank: int, layout: int) -> Value:
        if not c.type.rank or all(d == 1 for d in c.shape):
            return c
        full = c.const.reshape((1,) * (rank - c.type.rank) + c.const.shape)
        return self.graph.add_constant(np.transpose(full, _convert_perm(rank, layout)), name=c.name + "_layout")

    def region_node(self, n: Node) -> None:
        y = n.output
        frame, layout = self.frames[id(y)], self.store[id(y)]
        if n.op is Op.TRANSPOSE:
            x = n.inputs[0]
            if self.store[id(x)] == self.frames[id(x)] and layout == frame:
                n.replace_input(0, self.form(x, self.frames[id(x)], n))   # an unchanged transpose
                self.forms[(id(y), frame)] = y
            else:
                self.forms[(id(y), layout)] = self.form(x, layout, n)
            return
        rank = y.type.rank
        operands = []
        for v in n.inputs:
            if v is None or not (v.const is None and v.type.rank == rank):
                moved = v is not None and v.const is not None and layout != frame
                operands.append(self.bring_constant(v, rank, layout) if moved else v)
            else:
                operands.append(self.form(v, layout, n))
        if layout == frame:
            for i, v in enumerate(operands):
                n.replace_input(i, v)
            self.forms[(id(y), frame)] = y
            return
        attrs = {f: getattr(n.attrs, f) for f in n.attrs.__dataclass_fields__}
        if "axis" in attrs and n.op in (Op.SOFTMAX, Op.LOG_SOFTMAX, Op.CONCAT):
            perm = _convert_perm(rank, layout)
            attrs["axis"] = perm.index(attrs["axis"] % rank)
        new = apply(self.graph, n.op, operands, before=n, name=n.name, **attrs)
        self.forms[(id(y), layout)] = new.output

    def outside_node(self, n: Node) -> None:
        for i, v in enumerate(n.inputs):
            if v is not None and id(v) in self.frames:
                n.replace_input(i, self.form(v, self.frames[id(v)], n))


def _cancel_adjacent(graph: Graph) -> bool:
    """Compose every transpose of a transpose (identity compositions vanish)."""
    changed = False
    for n in graph.nodes:
        if n.graph is not graph or n.op is not Op.TRANSPOSE:
            continue
        inner = n.inputs[0].producer
        if inner is None or inner.op is not Op.TRANSPOSE:
            continue
        perm = compose_perms(inner.attrs.perm, n.attrs.perm)
        if perm == tuple(range(len(perm))):
            replace_result(graph, n, inner.inputs[0])
        else:
            new = apply(graph, Op.TRANSPOSE, [inner.inputs[0]], perm=perm, before=n, name=n.name)
            replace_result(graph, n, new.output)
        remove_if_dead(graph, inner)
        changed = True
    return changed


def assign_layout(graph: Graph) -> bool:
    """Store each region in the cheaper layout; always leaves no transpose of a transpose."""
    changed = _cancel_adjacent(graph)
    region = [n for n in graph.nodes if _region_transpose(n) or _agnostic(n)]
    if not any(n.op is Op.TRANSPOSE for n in region):
        return changed                  # without a region transpose nothing can improve
    frames = _frames(graph, region)
    region = [n for n in region if id(n.output) in frames]
    store = _storage(graph, region, frames) if region else {}
    if all(store[k] == frames[k] for k in store):
        return changed
    frames = {k: f for k, f in frames.items() if k in store}
    rw = _Rewriter(graph, frames, store)
    inside = {id(n) for n in region}
    for n in graph.nodes:
        (rw.region_node if id(n) in inside else rw.outside_node)(n)
    for i, v in enumerate(graph.outputs):
        if id(v) in frames:
            graph.set_output(i, rw.form(v, frames[id(v)], None))
    for n in reversed(region):
        remove_if_dead(graph, n)
    _cancel_adjacent(graph)
    return True
