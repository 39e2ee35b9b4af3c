"""Deep copies of graphs (compile never mutates a graph the caller still holds)."""

from __future__ import annotations

from .graph import Graph, Value


def clone_graph(graph: Graph) -> Graph:
    g = Graph(graph.name)
    g.meta = dict(graph.meta)
    new: dict[int, Value] = {}
    for v in graph.inputs:
        new[id(v)] = g.add_input(v.name, v.type)
    for name, v in graph.constants.items():
        c = g.add_constant(v.const, name=name)
        new[id(v)] = c
    for n in graph.nodes:
        ins = [None if v is None else new[id(v)] for v in n.inputs]
        m = g.add_node(n.op, ins, [o.type for o in n.outputs], n.attrs, name=n.name,
                       output_names=[o.name for o in n.outputs])
        m.meta = dict(n.meta)
        for o, mo in zip(n.outputs, m.outputs):
            new[id(o)] = mo
    for name, v in zip(graph.output_names, graph.outputs):
        g.add_output(new[id(v)], name)
    return g
