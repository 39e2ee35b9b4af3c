"""Fusion partitioning: which nodes share a kernel.

At O0 every node is its own kernel (a Reshape is a free alias of its input's buffer). From O2
the partition is built in four steps over a networkx view of the groups:

1. **Views inline.** Reshape/Transpose/Concat (and the other pure index remaps) never get a
   kernel when every consumer reads inputs through index math: each consumer reads through
   them (duplicated per consumer, which costs index arithmetic, not memory traffic).
2. **Epilogues.** A template (conv, gemm) or reduction absorbs the elementwise consumers of its
   output that read it at the same index — bias, folded batch-norm, activation, residual add,
   clamp — so the accumulator is stored once, after them.
3. **Prologues.** A reduction or template absorbs elementwise producers whose only reader it is
   (the scale before a softmax, a batch-norm + ReLU before a conv).
4. **Pointwise chains.** Remaining elementwise/window groups merge with their producers when
   every value leaving the merged kernel has its output domain.

Every merge is checked on the contracted group graph: merging P into C must not create a cycle,
i.e. no other path may lead from P to C. Refused merges are recorded with a reason, for
``stats["why_not_fused"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from cortado.ir import Graph, Node, Value
from cortado.ops import Category, get_op

from .groups import KernelGroup, Kind, is_alias, kind_of, order_groups, partition_unfused

MAX_ATTENTION_HEAD_DIM = 256  # the fused attention kernel holds a full head row in registers
MAX_GROUP_NODES = 48          # keeps generated kernels small enough to compile quickly
MAX_PROLOGUE_NODES = 8        # template operand prologues are recomputed per tile load
_READS_THROUGH_VIEWS = {Kind.POINTWISE, Kind.REDUCTION, Kind.GEMM, Kind.CONV}


def partition(graph: Graph, fuse: bool = False) -> list[KernelGroup]:
    if not fuse:
        return partition_unfused(graph)
    return _Fuser(graph).run()


def _category(node: Node) -> Category:
    return get_op(node.op).category


def _is_view(node: Node) -> bool:
    return _category(node) is Category.VIEW


def _is_elementwise(node: Node) -> bool:
    return _category(node) is Category.ELEMENTWISE


@dataclass
class _Group:
    id: int
    kind: Kind
    nodes: list[Node]
    anchor: Node | None

    @property
    def domain_value(self) -> Value:
        """The value whose shape is this kernel's output domain."""
        if self.anchor is not None:
            return self.anchor.outputs[0]
        return self.nodes[-1].outputs[0]


class _Fuser:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.nodes = graph.nodes
        self.pos = {id(n): i for i, n in enumerate(self.nodes)}
        self.outputs = {id(v) for v in graph.outputs}
        self.why_not: dict[int, list[str]] = {}
        self.inline: set[int] = set()
        self.group_of: dict[int, _Group] = {}
        self.groups: dict[int, _Group] = {}
        self.dag = nx.DiGraph()

    # -- setup ---------------------------------------------------------------------------------
    def run(self) -> list[KernelGroup]:
        self._choose_inline_views()
        for n in self.nodes:
            if id(n) in self.inline:
                continue
            kind = self._initial_kind(n)
            g = _Group(len(self.groups), kind, [n], None if kind is Kind.POINTWISE else n)
            self.groups[g.id] = g
            self.group_of[id(n)] = g
        self._build_dag()
        self._attention()
        self._epilogues()
        self._shortcuts()
        self._prologues()
        self._pointwise_chains()
        return self._finish()

    def _consumers(self, v: Value) -> list[Node]:
        """Non-inline nodes that read ``v``, looking through inline views."""
        out: list[Node] = []
        for user in v.users:
            if id(user) in self.inline:
                for o in user.outputs:
                    out.extend(self._consumers(o))
            else:
                out.append(user)
        return out

    def _choose_placed_concats(self) -> None:
        """Concats whose inputs are all kernel outputs get no kernel and no index math: each
        producer stores straight into its slice of the concat's buffer (nested concats, as in
        DenseNet blocks, into the outermost one)."""
        self.placed: set[int] = set()
        taken: set[int] = set()
        for n in self.nodes:
            if n.op.value != "Concat":
                continue
            ins = [v for v in n.inputs if v is not None]
            if len({id(v) for v in ins}) != len(ins):
                continue
            ok = True
            for v in ins:
                p = v.producer
                if (p is None or id(v) in self.outputs or id(v) in taken or is_alias(p) or _is_view(p) and
                        not (p.op.value == "Concat" and id(p) in self.placed)
                        or kind_of(p) is Kind.SPECIAL or any(is_alias(u) for u in v.users)):
                    ok = False
                    break
            if ok:
                self.placed.add(id(n))
                taken.update(id(v) for v in ins)

    def _choose_inline_views(self) -> None:
        self._choose_placed_concats()
        for n in reversed(self.nodes):
            if not _is_view(n) or any(id(o) in self.outputs for o in n.outputs) or id(n) in self.placed:
                continue
            users = [u for o in n.outputs for u in o.users]
            if users and all(id(u) in self.inline or kind_of(u) in _READS_THROUGH_VIEWS for u in users):
                self.inline.add(id(n))

    def _initial_kind(self, n: Node) -> Kind:
        """A Reshape that stays materialized aliases its input's buffer when that is a buffer."""
        if is_alias(n):
            src = n.inputs[0].producer
            if src is None or id(src) not in self.inline:
                return Kind.ALIAS
        if id(n) in self.placed:
            return Kind.PLACED
        return kind_of(n)

    def _producer_groups(self, node: Node) -> set[int]:
        """Groups whose values ``node`` reads (through inline views)."""
        out: set[int] = set()
        stack = [v for v in node.inputs if v is not None]
        while stack:
            v = stack.pop()
            p = v.producer
            if p is None:
                continue
            if id(p) in self.inline:
                stack.extend(x for x in p.inputs if x is not None)
            else:
                out.add(self.group_of[id(p)].id)
        return out

    def _build_dag(self) -> None:
        for g in self.groups.values():
            self.dag.add_node(g.id)
        for g in self.groups.values():
            for n in g.nodes:
                for p in self._producer_groups(n):
                    if p != g.id:
                        self.dag.add_edge(p, g.id)

    # -- merging ---------------------------------------------------------------------------------
    def _order(self, gid: int) -> int:
        return min(self.pos[id(n)] for n in self.groups[gid].nodes)

    def _creates_cycle(self, p: int, c: int) -> bool:
        """Would contracting p and c close a cycle? (another path p -> ... -> c)."""
        limit = self._last(c)
        for s in self.dag.successors(p):
            if s == c or self._order(s) > limit:
                continue
            if nx.has_path(self.dag, s, c):
                return True
        return False

    def _last(self, gid: int) -> int:
        return max(self.pos[id(n)] for n in self.groups[gid].nodes)

    def _merge(self, keep: _Group, other: _Group) -> None:
        keep.nodes = sorted(keep.nodes + other.nodes, key=lambda n: self.pos[id(n)])
        for n in other.nodes:
            self.group_of[id(n)] = keep
        nx.contracted_nodes(self.dag, keep.id, other.id, self_loops=False, copy=False)
        del self.groups[other.id]

    def _refuse(self, node: Node, reason: str) -> None:
        """Record why a fusion candidate was not fused. Only elementwise and window ops are
        candidates worth explaining; two templates never fuse and need no line."""
        if kind_of(node) is not Kind.POINTWISE:
            return
        line = f"{node.name} ({node.op.value}): {reason}"
        lines = self.why_not.setdefault(id(node), [])
        if line not in lines:
            lines.append(line)

    def _escaping(self, g_nodes: list[Node], extra: list[Node] = ()) -> list[Value]:
        """Values produced by these nodes that something outside them reads (or the graph returns)."""
        inside = {id(n) for n in list(g_nodes) + list(extra)}
        out = []
        for n in list(g_nodes) + list(extra):
            for v in n.outputs:
                if id(v) in self.outputs or any(id(u) not in inside for u in self._consumers(v)):
                    out.append(v)
        return out

    # step 1b: attention ---------------------------------------------------------------------
    def _attention(self) -> None:
        """MatMul(Q, Kt) -> elementwise (scale, mask) -> Softmax(last axis) -> MatMul(., V)
        becomes one ATTENTION group: the score matrix is never stored."""
        self.roles: dict[int, dict] = {}
        for sm in self.nodes:
            if sm.op.value != "Softmax" or id(sm) in self.inline:
                continue
            found = self._attention_pattern(sm)
            if found is None:
                continue
            mm1, chain, mm2 = found
            members = [self.group_of[id(n)] for n in [mm1, *chain, sm, mm2]]
            if any(len(m.nodes) != 1 for m in members):
                continue
            # Every intermediate value of the pattern has exactly one reader inside it, so no
            # outside path can join two members: merging them in order cannot close a cycle.
            target = members[0]
            for m in members[1:]:
                assert not self._creates_cycle(target.id, m.id), "attention pattern with an outside path"
                self._merge(target, m)
            target.kind = Kind.ATTENTION
            target.anchor = mm2
            self.roles[target.id] = {"scores": mm1, "softmax": sm}

    def _attention_pattern(self, sm: Node):
        x = sm.inputs[0]
        if sm.attrs.axis % x.type.rank != x.type.rank - 1 or x.type.rank < 2:
            return None
        users = sm.outputs[0].users
        if len(users) != 1 or users[0].op.value != "MatMul" or users[0].inputs[0] is not sm.outputs[0] \
                or id(sm.outputs[0]) in self.outputs:
            return None
        mm2 = users[0]
        chain: list[Node] = []
        v = x
        while True:
            p = v.producer
            if p is None or id(p) in self.inline or len(v.users) != 1 or id(v) in self.outputs:
                return None
            if p.op.value == "MatMul":
                break
            if not _is_elementwise(p) or tuple(p.outputs[0].shape) != tuple(x.shape):
                return None
            from_chain = [u for u in p.inputs if u is not None and u.producer is not None
                          and tuple(u.shape) == tuple(x.shape) and id(u.producer) not in self.inline
                          and (u.producer.op.value == "MatMul" or _is_elementwise(u.producer))]
            if len(from_chain) != 1:
                return None
            chain.append(p)
            v = from_chain[0]
        mm1 = p
        q, v_in = mm1.inputs[0], mm2.inputs[1]
        if q.type.rank < 2 or v_in.type.rank < 2 or mm1.inputs[1].type.rank < 2:
            return None
        d, dv = q.shape[-1], v_in.shape[-1]
        if not (isinstance(d, int) and isinstance(dv, int) and d <= MAX_ATTENTION_HEAD_DIM
                and dv <= MAX_ATTENTION_HEAD_DIM):
            self._refuse(sm, f"head dims {d}/{dv} exceed {MAX_ATTENTION_HEAD_DIM} for the fused attention kernel")
            return None
        if tuple(mm1.outputs[0].shape[:-2]) != tuple(mm2.outputs[0].shape[:-2]):
            return None
        return mm1, list(reversed(chain)), mm2

    # step 2: epilogues ------------------------------------------------------------------------
    def _epilogues(self) -> None:
        for gid in sorted(self.groups, key=self._order):
            g = self.groups.get(gid)
            if g is None or g.kind not in (Kind.CONV, Kind.GEMM, Kind.REDUCTION, Kind.ATTENTION):
                continue
            changed = True
            while changed and len(g.nodes) < MAX_GROUP_NODES:
                changed = False
                for c_id in sorted(self.dag.successors(g.id), key=self._order):
                    c = self.groups[c_id]
                    if c.kind in (Kind.ALIAS, Kind.PLACED):
                        continue
                    reason = self._epilogue_refusal(g, c)
                    if reason:
                        self._refuse(c.nodes[0], reason)
                        continue
                    self._merge(g, c)
                    changed = True
                    break

    def _epilogue_refusal(self, g: _Group, c: _Group) -> str | None:
        if c.kind is not Kind.POINTWISE or len(c.nodes) != 1:
            return f"{c.kind.value} kernel cannot be an epilogue of {g.anchor.name}"
        n = c.nodes[0]
        shape = tuple(g.domain_value.shape)
        if not _is_elementwise(n):
            return f"not elementwise: cannot run on {g.anchor.name}'s accumulator tile"
        wide = self._row_broadcast(g)
        if tuple(n.outputs[0].shape) != shape and tuple(n.outputs[0].shape) != wide:
            return f"output shape differs from {g.anchor.name}'s ({n.outputs[0].type} vs {g.domain_value.type})"
        if wide is not None and tuple(n.outputs[0].shape) == wide:
            shape = wide      # an epilogue over the reduction's input, reading the statistic broadcast
        inside = {id(x) for x in g.nodes}
        for v in n.inputs:
            if v is None or v.producer is None:
                continue
            if id(v.producer) in self.inline and self._reaches(v, inside):
                return f"reads {g.anchor.name}'s result through a view"
            if id(v.producer) in inside and tuple(v.shape) != shape and \
                    not (wide is not None and tuple(v.shape) == tuple(g.domain_value.shape)):
                return f"reads {g.anchor.name}'s group at another index (broadcast)"
        allowed = {tuple(g.domain_value.shape), shape}
        for v in self._escaping(g.nodes, [n]):
            if tuple(v.shape) not in allowed:
                return f"{v.name} would leave the kernel with shape {v.type}, not the output domain"
        if self._creates_cycle(g.id, c.id):
            return "fusing would create a cycle (another path joins them)"
        return None

    def _row_broadcast(self, g: _Group):
        """For a keepdims reduction group: the shape of its input (epilogues may run over it,
        reading the row statistic broadcast); None otherwise."""
        if g.kind is not Kind.REDUCTION or _category(g.anchor) is not Category.REDUCTION:
            return None
        x = g.anchor.inputs[0]
        if x is None or g.anchor.outputs[0].type.rank != x.type.rank:
            return None
        return tuple(x.shape)

    def _reaches(self, v: Value, inside: set[int]) -> bool:
        p = v.producer
        if p is None:
            return False
        if id(p) in inside:
            return True
        if id(p) in self.inline:
            return any(self._reaches(x, inside) for x in p.inputs if x is not None)
        return False

    # step 2b: residual shortcuts ----------------------------------------------------------
    def _shortcuts(self) -> None:
        """A conv whose only reader is another conv's epilogue (the projection shortcut of a
        residual block, added to the main branch) runs inside that conv's kernel: both
        accumulate their tiles in one program and the sum is stored once."""
        self.extra: dict[int, list[Node]] = {}
        for gid in sorted(self.groups, key=self._order):
            g2 = self.groups.get(gid)
            if g2 is None or g2.kind is not Kind.CONV or g2.id in self.extra:
                continue
            outs = self._escaping(g2.nodes)
            if len(outs) != 1 or id(outs[0]) in self.outputs:
                continue
            readers = self._consumers(outs[0])
            if len(readers) != 1 or not _is_elementwise(readers[0]):
                continue
            g1 = self.group_of[id(readers[0])]
            if g1 is g2 or g1.kind is not Kind.CONV or outs[0].producer is None \
                    or tuple(outs[0].shape) != tuple(g1.anchor.outputs[0].shape):
                continue
            a1, a2 = g1.anchor, g2.anchor
            if a1.attrs.group != a2.attrs.group or a1.inputs[1].shape[0] != a2.inputs[1].shape[0] \
                    or any(tuple(n.outputs[0].shape) != tuple(outs[0].shape) for n in g2.nodes if n is not a2) \
                    or id(outs[0].producer) in self.inline:
                continue
            if self._creates_cycle(g2.id, g1.id):
                continue
            self.extra.setdefault(g1.id, []).extend([a2, *self.extra.pop(g2.id, [])])
            self._merge(g1, g2)

    # step 3: prologues ------------------------------------------------------------------------
    def _prologues(self) -> None:
        for gid in sorted(self.groups, key=self._order):
            g = self.groups.get(gid)
            if g is None or g.kind not in (Kind.CONV, Kind.GEMM, Kind.REDUCTION):
                continue
            refused: set[int] = set()
            changed = True
            while changed:
                changed = False
                for p_id in sorted(self.dag.predecessors(g.id), key=self._order, reverse=True):
                    p = self.groups[p_id]
                    if p_id in refused:
                        continue
                    reason = self._prologue_refusal(p, g)
                    if reason:
                        refused.add(p_id)
                        self._refuse(p.nodes[-1], reason)
                        continue
                    self._merge(g, p)
                    changed = True
                    break

    def _prologue_refusal(self, p: _Group, g: _Group) -> str | None:
        if p.kind is not Kind.POINTWISE:
            return f"{p.kind.value} kernel cannot be a prologue"
        if any(not _is_elementwise(n) for n in p.nodes):
            return f"window or view ops are not recomputed inside {g.anchor.name}"
        limit = MAX_PROLOGUE_NODES if g.kind in (Kind.CONV, Kind.GEMM) else MAX_GROUP_NODES
        if len(p.nodes) > limit:
            return f"too much work to recompute per tile of {g.anchor.name} ({len(p.nodes)} ops)"
        if self._escaping(p.nodes):
            escaping = self._escaping(p.nodes)
            if any(id(v) in self.outputs for v in escaping) or set(self.dag.successors(p.id)) != {g.id}:
                return f"its result is also read outside {g.anchor.name}'s kernel"
        if g.kind in (Kind.CONV, Kind.GEMM):
            operands = {id(v) for v in g.anchor.inputs[:2] if v is not None}
            feeds_bias = any(id(v) not in operands and self._reaches(v, {id(n) for n in p.nodes})
                             for v in g.anchor.inputs[2:] if v is not None)
            if feeds_bias:
                return "feeds the bias, not an operand"
        if self._creates_cycle(p.id, g.id):
            return "fusing would create a cycle (another path joins them)"
        return None

    # step 4: pointwise chains -----------------------------------------------------------------
    def _pointwise_chains(self) -> None:
        for gid in sorted(self.groups, key=self._order):
            c = self.groups.get(gid)
            if c is None or c.kind is not Kind.POINTWISE:
                continue
            changed = True
            while changed and len(c.nodes) < MAX_GROUP_NODES:
                changed = False
                for p_id in sorted(self.dag.predecessors(c.id), key=self._order, reverse=True):
                    p = self.groups[p_id]
                    if p.kind is not Kind.POINTWISE:
                        continue
                    reason = self._chain_refusal(p, c)
                    if reason:
                        self._refuse(p.nodes[-1], reason)
                        continue
                    self._merge(c, p)
                    changed = True
                    break

    def _chain_refusal(self, p: _Group, c: _Group) -> str | None:
        if len(p.nodes) + len(c.nodes) > MAX_GROUP_NODES:
            return "the merged kernel would be too large"
        shape = tuple(c.domain_value.shape)
        for v in self._escaping(p.nodes + c.nodes):
            if tuple(v.shape) != shape:
                return f"{v.name} would leave the kernel with shape {v.type}, not its domain {c.domain_value.type}"
        if self._creates_cycle(p.id, c.id):
            return "fusing would create a cycle (another path joins them)"
        return None

    # -- result ------------------------------------------------------------------------------------
    def _finish(self) -> list[KernelGroup]:
        result = []
        for g in sorted(self.groups.values(), key=lambda g: self._order(g.id)):
            if g.kind in (Kind.ALIAS, Kind.PLACED):
                result.append(KernelGroup(g.kind, g.nodes, g.anchor, list(g.nodes[0].outputs)))
                continue
            nodes = self._with_views(g.nodes)
            outs = self._escaping(g.nodes)
            reasons = [r for n in g.nodes for r in self.why_not.get(id(n), [])]
            roles = dict(self.roles.get(g.id, {}))
            if self.extra.get(g.id):
                roles["extra"] = sorted(self.extra[g.id], key=lambda n: self.pos[id(n)])
            result.append(KernelGroup(g.kind, nodes, g.anchor, outs, reasons, roles))
        return order_groups(result)

    def _with_views(self, nodes: list[Node]) -> list[Node]:
        """The group's nodes plus the inline views between them and the values they load."""
        members = {id(n): n for n in nodes}
        stack = [v for n in nodes for v in n.inputs if v is not None]
        while stack:
            v = stack.pop()
            p = v.producer
            if p is not None and id(p) in self.inline and id(p) not in members:
                members[id(p)] = p
                stack.extend(x for x in p.inputs if x is not None)
        return sorted(members.values(), key=lambda n: self.pos[id(n)])
