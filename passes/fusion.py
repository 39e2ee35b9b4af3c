"""Fusion partitioning: which nodes share a kernel — a generic driver that asks the templates.

At O0 every node is its own kernel (a Reshape is a free alias of its input's buffer). From O2
the partition is built in steps over a networkx view of the groups. Which neighbours a
kernel can take in is not decided here: each kernel kind is a ``Template``
(``cortado.kernel_groups``; the kernels' own in ``cortado.codegen.templates``) that answers
``epilogue_refusal`` / ``prologue_refusal`` / ``sibling_refusal`` with None or a reason, and
pattern templates (attention) ``match`` their nodes. The driver keeps what every kind shares:

1. **Views inline.** Reshape/Transpose/Concat (and the other pure index remaps) never get a
   kernel when every consumer reads inputs through index math (templates that say
   ``reads_through_views``): each consumer reads through them (duplicated per consumer,
   which costs index arithmetic, not memory traffic). Concats whose inputs are all kernel
   outputs are *placed*: producers store straight into their slices.
2. **Patterns.** Templates rooted at a node (attention at a Softmax) claim their pattern.
3. **Epilogues.** Templates that ``takes_epilogues`` (conv, gemm, reduction, attention) absorb
   the elementwise consumers of their output they accept — bias, folded batch-norm,
   activation, residual add, clamp — so the accumulator is stored once, after them.
4. **Siblings.** A conv read only by another conv's epilogue accumulates in its kernel.
5. **Prologues.** Templates that ``takes_prologues`` absorb elementwise producers whose only
   reader they are (the scale before a softmax, a batch-norm + ReLU before a conv).
6. **Chains.** Remaining groups of a ``chains`` kind (pointwise) merge with producers of
   their kind when every value leaving the merged kernel has its output domain.

Every merge is checked on the contracted group graph: merging P into C must not create a cycle,
i.e. no other path may lead from P to C; the driver also keeps the group size cap. Refused
merges are recorded with the template's reason, for ``stats["why_not_fused"]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Iterable

import networkx as nx

from cortado.ir import Graph, Node, Op, Value
from cortado.kernel_groups import MAX_GROUP_NODES, KernelGroup, Kind, Template, is_alias, kind_of
from cortado.ops import Category, get_op

from .groups import order_groups, partition_unfused
from .manager import NamedPass, PassManager

__all__ = ["MAX_GROUP_NODES", "STAGES", "partition"]


def partition(graph: Graph, fuse: bool = False, *, disable: Iterable[str] = (), dump_after: Iterable[str] = (),
              dump: Callable[[str, str], None] | None = None, table: list[dict] | None = None) -> list[KernelGroup]:
    """The kernel groups of ``graph`` in launch order: one per node (``fuse=False``, O0/O1) or
    fused (O2+). The kernel kinds are the templates registered in ``Kind``; the compiler
    registers them by importing ``cortado.codegen.templates`` (this layer cannot import
    codegen), and a node no template anchors is a CortadoError saying so.

    Fusion's stages (``STAGES``) run through the pass manager like graph passes: each is timed
    (rows appended to ``table``, with groups before/after in the node columns), a name in
    ``disable`` skips it, and after a name in ``dump_after`` ``dump(name, text)`` receives the
    partition so far (default: printed to stderr)."""
    if not fuse:
        return partition_unfused(graph)
    fuser = _Fuser(graph)
    options = dict(disable=disable, dump_after=dump_after, dump=_partition_dump(dump))
    rows = PassManager([NamedPass(n, _stage(m)) for n, m in _SETUP], **options).run(fuser)
    fuser.make_groups()
    rows += PassManager([NamedPass(n, _stage(m)) for n, m in _MERGES], **options).run(fuser)
    if table is not None:
        table.extend(rows)
    return fuser.finish()


def _stage(method: str) -> Callable[["_Fuser"], bool]:
    def run(fuser: "_Fuser") -> bool:
        before = fuser.changes
        getattr(fuser, method)()
        return fuser.changes != before
    run.__name__ = method.lstrip("_")
    return run


def _partition_dump(dump: Callable[[str, str], None] | None):
    def show(name: str, fuser: "_Fuser") -> None:
        text = fuser.describe()
        if dump is not None:
            dump(name, text)
        else:
            print(f"// partition after {name}\n{text}", file=sys.stderr)
    return show


def _category(node: Node) -> Category:
    return get_op(node.op).category


def _is_view(node: Node) -> bool:
    return _category(node) is Category.VIEW


def _is_elementwise(node: Node) -> bool:
    return _category(node) is Category.ELEMENTWISE


@dataclass
class _Group:
    id: int
    kind: Template
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
        self.group_of_id: dict[int, _Group] = {}
        self.groups: dict[int, _Group] = {}
        self.dag = nx.DiGraph()
        self.placed: set[int] = set()
        self.roles: dict[int, object] = {}
        self.extra: dict[int, list[Node]] = {}
        self.changes = 0              # placements, inlined views and merges so far

    # -- setup ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Kernels so far (the pass manager's "nodes" columns count groups for fusion)."""
        return len(self.groups)

    def make_groups(self) -> None:
        """One group per node that is not an inline view, and the group DAG between them."""
        for n in self.nodes:
            if id(n) in self.inline:
                continue
            kind = self._initial_kind(n)
            g = _Group(len(self.groups), kind, [n], n if kind.anchored else None)
            self.groups[g.id] = g
            self.group_of_id[id(n)] = g
        self._build_dag()

    def describe(self) -> str:
        """The partition so far, one group a line (for ``dump_after``)."""
        lines = [f"inline views: {', '.join(n.name for n in self.nodes if id(n) in self.inline) or '-'}",
                 f"placed concats: {', '.join(n.name for n in self.nodes if id(n) in self.placed) or '-'}"]
        for g in sorted(self.groups.values(), key=lambda g: self._order(g.id)):
            lines.append(f"{g.kind.value:<14} {', '.join(n.name for n in g.nodes)}")
        return "\n".join(lines)

    # -- what the templates' rules read -------------------------------------------------------
    def is_inline(self, node: Node) -> bool:
        """Is ``node`` a view that every consumer reads through index math (no kernel)?"""
        return id(node) in self.inline

    def is_output(self, value: Value) -> bool:
        return id(value) in self.outputs

    def group_of(self, node: Node) -> _Group:
        return self.group_of_id[id(node)]

    def readers_of(self, group: _Group) -> set[int]:
        """Ids of the groups that read ``group``'s values."""
        return set(self.dag.successors(group.id))

    def consumers(self, v: Value) -> list[Node]:
        """Non-inline nodes that read ``v``, looking through inline views."""
        out: list[Node] = []
        for user in v.users:
            if id(user) in self.inline:
                for o in user.outputs:
                    out.extend(self.consumers(o))
            else:
                out.append(user)
        return out

    def _choose_placed_concats(self) -> None:
        """Concats whose inputs are all kernel outputs get no kernel and no index math: each
        producer stores straight into its slice of the concat's buffer (nested concats, as in
        DenseNet blocks, into the outermost one)."""
        taken: set[int] = set()
        for n in self.nodes:
            if n.op is not Op.CONCAT:
                continue
            ins = [v for v in n.inputs if v is not None]
            if len({id(v) for v in ins}) != len(ins):
                continue
            ok = True
            for v in ins:
                p = v.producer
                if (p is None or id(v) in self.outputs or id(v) in taken or is_alias(p) or _is_view(p) and
                        not (p.op is Op.CONCAT and id(p) in self.placed)
                        or not kind_of(p).fills_concat_slices or any(is_alias(u) for u in v.users)):
                    ok = False
                    break
            if ok:
                self.placed.add(id(n))
                self.changes += 1
                taken.update(id(v) for v in ins)

    def _choose_inline_views(self) -> None:
        for n in reversed(self.nodes):
            if not _is_view(n) or any(id(o) in self.outputs for o in n.outputs) or id(n) in self.placed:
                continue
            users = [u for o in n.outputs for u in o.users]
            if users and all(id(u) in self.inline or kind_of(u).reads_through_views for u in users):
                self.inline.add(id(n))
                self.changes += 1

    def _initial_kind(self, n: Node) -> Template:
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
                out.add(self.group_of_id[id(p)].id)
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
            self.group_of_id[id(n)] = keep
        nx.contracted_nodes(self.dag, keep.id, other.id, self_loops=False, copy=False)
        self.changes += 1
        del self.groups[other.id]

    def refuse(self, node: Node, reason: str) -> None:
        """Record why a fusion candidate was not fused. Only nodes of kinds that other kernels
        absorb (elementwise and window ops) are worth explaining; two templates never fuse and
        need no line."""
        if not kind_of(node).absorbable:
            return
        line = f"{node.name} ({node.op.value}): {reason}"
        lines = self.why_not.setdefault(id(node), [])
        if line not in lines:
            lines.append(line)

    def escaping(self, g_nodes: list[Node], extra: list[Node] = ()) -> list[Value]:
        """Values produced by these nodes that something outside them reads (or the graph returns)."""
        inside = {id(n) for n in list(g_nodes) + list(extra)}
        out = []
        for n in list(g_nodes) + list(extra):
            for v in n.outputs:
                if id(v) in self.outputs or any(id(u) not in inside for u in self.consumers(v)):
                    out.append(v)
        return out

    # step 1b: multi-node patterns (attention) ---------------------------------------------
    def _patterns(self) -> None:
        """Templates that anchor a pattern rather than one node (attention: MatMul -> scale /
        mask -> Softmax -> MatMul) claim its nodes first, as one group of their kind."""
        rooted = [t for t in Kind if t.pattern_root is not Template.pattern_root]
        for root in self.nodes:
            if id(root) in self.inline:
                continue
            for template in rooted:
                if template.pattern_root(root):
                    self._claim_pattern(template, root)

    def _claim_pattern(self, template: Template, root: Node) -> None:
        found = template.match(self, root)
        if found is None:
            return
        members_nodes, anchor, roles = found
        members = [self.group_of_id[id(n)] for n in members_nodes]
        if any(len(m.nodes) != 1 for m in members):
            return
        # Every intermediate value of a pattern has exactly one reader inside it, so no
        # outside path can join two members: merging them in order cannot close a cycle.
        target = members[0]
        for m in members[1:]:
            assert not self._creates_cycle(target.id, m.id), f"{template.name} pattern with an outside path"
            self._merge(target, m)
        target.kind = template
        target.anchor = anchor
        self.roles[target.id] = roles

    # step 2: epilogues ------------------------------------------------------------------------
    def _epilogues(self) -> None:
        for gid in sorted(self.groups, key=self._order):
            g = self.groups.get(gid)
            if g is None or not g.kind.takes_epilogues:
                continue
            changed = True
            while changed and len(g.nodes) < MAX_GROUP_NODES:
                changed = False
                for c_id in sorted(self.dag.successors(g.id), key=self._order):
                    c = self.groups[c_id]
                    if not c.kind.has_kernel:
                        continue
                    reason = g.kind.epilogue_refusal(self, g, c) or self._cycle_refusal(g.id, c.id)
                    if reason:
                        self.refuse(c.nodes[0], reason)
                        continue
                    self._merge(g, c)
                    changed = True
                    break

    def _cycle_refusal(self, p: int, c: int) -> str | None:
        if self._creates_cycle(p, c):
            return "fusing would create a cycle (another path joins them)"
        return None

    def reaches(self, v: Value, inside: set[int]) -> bool:
        """Does ``v`` come from a node in ``inside``, directly or through inline views?"""
        p = v.producer
        if p is None:
            return False
        if id(p) in inside:
            return True
        if id(p) in self.inline:
            return any(self.reaches(x, inside) for x in p.inputs if x is not None)
        return False

    # step 2b: sibling accumulation (residual shortcuts) -------------------------------------
    def _siblings(self) -> None:
        """A group whose only reader is another group's epilogue, of a kind that accumulates
        siblings (a residual block's projection shortcut conv, added to the main branch), runs
        inside that group's kernel: both accumulate their tiles in one program and the sum is
        stored once. The template decides which siblings fit (``sibling_refusal``)."""
        for gid in sorted(self.groups, key=self._order):
            g2 = self.groups.get(gid)
            if g2 is None or not g2.kind.takes_siblings or g2.id in self.extra:
                continue
            outs = self.escaping(g2.nodes)
            if len(outs) != 1 or id(outs[0]) in self.outputs:
                continue
            readers = self.consumers(outs[0])
            if len(readers) != 1 or not _is_elementwise(readers[0]):
                continue
            g1 = self.group_of_id[id(readers[0])]
            if g1 is g2 or g1.kind is not g2.kind or g1.kind.sibling_refusal(self, g1, g2, outs[0]):
                continue
            if self._creates_cycle(g2.id, g1.id):
                continue
            self.extra.setdefault(g1.id, []).extend([g2.anchor, *self.extra.pop(g2.id, [])])
            self._merge(g1, g2)

    # step 3: prologues ------------------------------------------------------------------------
    def _prologues(self) -> None:
        for gid in sorted(self.groups, key=self._order):
            g = self.groups.get(gid)
            if g is None or not g.kind.takes_prologues:
                continue
            refused: set[int] = set()
            changed = True
            while changed:
                changed = False
                for p_id in sorted(self.dag.predecessors(g.id), key=self._order, reverse=True):
                    p = self.groups[p_id]
                    if p_id in refused:
                        continue
                    reason = g.kind.prologue_refusal(self, p, g) or self._cycle_refusal(p.id, g.id)
                    if reason:
                        refused.add(p_id)
                        self.refuse(p.nodes[-1], reason)
                        continue
                    self._merge(g, p)
                    changed = True
                    break

    # step 4: pointwise chains -----------------------------------------------------------------
    def _pointwise_chains(self) -> None:
        for gid in sorted(self.groups, key=self._order):
            c = self.groups.get(gid)
            if c is None or not c.kind.chains:
                continue
            changed = True
            while changed and len(c.nodes) < MAX_GROUP_NODES:
                changed = False
                for p_id in sorted(self.dag.predecessors(c.id), key=self._order, reverse=True):
                    p = self.groups[p_id]
                    if p.kind is not c.kind:
                        continue
                    reason = self._chain_refusal(p, c)
                    if reason:
                        self.refuse(p.nodes[-1], reason)
                        continue
                    self._merge(c, p)
                    changed = True
                    break

    def _chain_refusal(self, p: _Group, c: _Group) -> str | None:
        if len(p.nodes) + len(c.nodes) > MAX_GROUP_NODES:
            return "the merged kernel would be too large"
        shape = tuple(c.domain_value.shape)
        for v in self.escaping(p.nodes + c.nodes):
            if tuple(v.shape) != shape:
                return f"{v.name} would leave the kernel with shape {v.type}, not its domain {c.domain_value.type}"
        if self._creates_cycle(p.id, c.id):
            return "fusing would create a cycle (another path joins them)"
        return None

    # -- result ------------------------------------------------------------------------------------
    def finish(self) -> list[KernelGroup]:
        result = []
        for g in sorted(self.groups.values(), key=lambda g: self._order(g.id)):
            if not g.kind.has_kernel:
                result.append(KernelGroup(g.kind, g.nodes, g.anchor, list(g.nodes[0].outputs)))
                continue
            nodes = self._with_views(g.nodes)
            outs = self.escaping(g.nodes)
            reasons = [r for n in g.nodes for r in self.why_not.get(id(n), [])]
            siblings = tuple(sorted(self.extra.get(g.id, []), key=lambda n: self.pos[id(n)]))
            roles = g.kind.roles(self.roles.get(g.id), siblings)
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


# fusion's stages, in order, by the name the pass manager reports, disables and dumps them under
_SETUP = [("placement", "_choose_placed_concats"), ("inline_views", "_choose_inline_views")]
_MERGES = [("patterns", "_patterns"), ("epilogues", "_epilogues"), ("siblings", "_siblings"),
           ("prologues", "_prologues"), ("chains", "_pointwise_chains")]
STAGES = tuple(name for name, _ in _SETUP + _MERGES)
