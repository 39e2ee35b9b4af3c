"""Kernel groups: the partition of a graph into kernels, shared by fusion, memory and codegen."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import networkx as nx

from cortado.ir import Graph, Node, Value
from cortado.ops import Category, get_op


class Kind(str, Enum):
    POINTWISE = "pointwise"    # elementwise, views and windows over one output domain
    REDUCTION = "reduction"    # a row reduction / normalization with prologue and epilogue
    GEMM = "gemm"              # MatMul / Gemm template with epilogue
    CONV = "conv"              # implicit-GEMM convolution with epilogue
    SPECIAL = "special"        # an op with its own generator (scan, scatter, shape, ...)
    ALIAS = "alias"            # a free view of another buffer (Reshape of contiguous data)
    PLACED = "placed"          # a Concat whose inputs are written straight into its buffer
    ATTENTION = "attention"    # MatMul -> scale/mask -> Softmax -> MatMul, one flash-style kernel


@dataclass
class KernelGroup:
    kind: Kind
    nodes: list[Node]                  # topological order
    anchor: Node | None = None         # the template/reduction node, None for pointwise
    outputs: list[Value] = field(default_factory=list)   # values written to memory
    why_not: list[str] = field(default_factory=list)     # fusion refusals, for stats
    roles: dict = field(default_factory=dict)             # kind-specific nodes (attention: scores, softmax)

    @property
    def name(self) -> str:
        return self.nodes[0].name if len(self.nodes) == 1 else f"{self.nodes[0].name}..{self.nodes[-1].name}"


def kind_of(node: Node) -> Kind:
    """The kernel kind a node anchors when it stands alone."""
    cat = get_op(node.op).category
    if cat in (Category.ELEMENTWISE, Category.VIEW, Category.WINDOW):
        return Kind.POINTWISE
    if cat in (Category.REDUCTION, Category.NORMALIZATION):
        return Kind.REDUCTION
    if cat is Category.CONTRACTION:
        return Kind.GEMM
    if cat is Category.CONV and node.op.value == "Conv":
        return Kind.POINTWISE if is_depthwise(node) else Kind.CONV
    return Kind.SPECIAL


def is_depthwise(node: Node) -> bool:
    """A Conv whose every group sees one input channel: lowered as a window op, not a GEMM."""
    return node.op.value == "Conv" and node.inputs[1].shape[1] == 1 and node.attrs.group > 1


def is_alias(node: Node) -> bool:
    """A Reshape reads its input's buffer as is: row-major order is unchanged."""
    return node.op.value == "Reshape"


def order_groups(groups: list[KernelGroup]) -> list[KernelGroup]:
    """A kernel order in which every group runs after the groups it reads from."""
    produced_by: dict[int, int] = {}
    for i, g in enumerate(groups):
        for v in g.outputs:
            produced_by[id(v)] = i
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(groups)))
    for i, g in enumerate(groups):
        inside = {id(n) for n in g.nodes}
        for n in g.nodes:
            for v in n.inputs:
                if v is not None and (v.producer is None or id(v.producer) not in inside):
                    j = produced_by.get(id(v))
                    if j is not None and j != i:
                        dag.add_edge(j, i)
    order = list(nx.lexicographical_topological_sort(dag))
    return [groups[i] for i in order]


def partition_unfused(graph: Graph) -> list[KernelGroup]:
    """One group per node, in graph order: the O0 partition (a Reshape stays an alias)."""
    groups = []
    for node in graph.nodes:
        if is_alias(node):
            groups.append(KernelGroup(Kind.ALIAS, [node], node, list(node.outputs)))
            continue
        kind = kind_of(node)
        anchor = None if kind is Kind.POINTWISE else node
        groups.append(KernelGroup(kind, [node], anchor, list(node.outputs)))
    return groups
