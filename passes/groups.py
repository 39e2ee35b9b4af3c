"""The partition of a graph into kernels: kernel order and the unfused (O0) partition.

``KernelGroup`` and the kernel kinds (``Kind``, the template registry) live in
``cortado.kernel_groups``, beside the IR, so that codegen reads them without importing passes;
they are re-exported here for the passes that use them.
"""

from __future__ import annotations

import networkx as nx

from cortado.ir import Graph
from cortado.kernel_groups import KernelGroup, Kind, is_alias, is_depthwise, kind_of

__all__ = ["KernelGroup", "Kind", "is_alias", "is_depthwise", "kind_of", "order_groups", "partition_unfused"]


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
        anchor = node if kind.anchored else None
        groups.append(KernelGroup(kind, [node], anchor, list(node.outputs)))
    return groups
