"""Names in ONNX subgraphs (control-flow bodies, function bodies): which a body defines, and a
copy with every name passed through a renaming, so inlined copies of one body stay apart."""

from __future__ import annotations

import onnx


def defined_names(graph: onnx.GraphProto) -> set[str]:
    names = {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    for n in graph.node:
        names.update(o for o in n.output if o)
    return names


def rename_graph(graph: onnx.GraphProto, rename) -> onnx.GraphProto:
    """A copy of ``graph`` with every name passed through ``rename`` — names it defines and the
    enclosing-scope names it reads alike (nested subgraphs too)."""
    g = onnx.GraphProto()
    g.CopyFrom(graph)
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        vi.name = rename(vi.name)
    for t in g.initializer:
        t.name = rename(t.name)
    for n in g.node:
        ins, outs = [rename(v) if v else "" for v in n.input], [rename(v) if v else "" for v in n.output]
        del n.input[:]
        del n.output[:]
        n.input.extend(ins)
        n.output.extend(outs)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                a.g.CopyFrom(rename_graph(a.g, rename))
            elif a.type == onnx.AttributeProto.GRAPHS:
                for sub in a.graphs:
                    sub.CopyFrom(rename_graph(sub, rename))
    return g
