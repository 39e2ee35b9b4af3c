"""A networkx view of the IR for the graph algorithms passes need.

Nodes of the view are the IR nodes' positions in ``graph.nodes`` (ints, so algorithms are
deterministic and never hash IR objects); each carries its IR node as ``node`` attribute.
Edges run producer -> consumer and carry the values that flow along them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .graph import Graph

if TYPE_CHECKING:
    import networkx as nx


def to_networkx(graph: Graph) -> "nx.DiGraph":
    import networkx as nx   # here, not at the top: `cortado check` imports the IR but needs no networkx

    g = nx.DiGraph()
    nodes = graph.nodes
    index = {id(n): i for i, n in enumerate(nodes)}
    for i, n in enumerate(nodes):
        g.add_node(i, node=n, op=n.op.value)
    for i, n in enumerate(nodes):
        for v in n.inputs:
            if v is None or v.producer is None or id(v.producer) not in index:
                continue
            src = index[id(v.producer)]
            if g.has_edge(src, i):
                g.edges[src, i]["values"].append(v)
            else:
                g.add_edge(src, i, values=[v])
    return g
