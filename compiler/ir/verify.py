"""Structural invariants of a graph; ``cortado.ops.verify`` adds the type checks.

Messages name the node or value at fault and say how to fix it, because they are read by
people writing passes.
"""

from __future__ import annotations

from .graph import Graph, IRError


class VerificationError(IRError):
    """The graph breaks an IR invariant; the message names the node and the fix."""


def verify_structure(graph: Graph) -> None:
    defined: set[int] = set()
    names: dict[str, object] = {}

    def claim_name(v, where):
        other = names.get(v.name)
        if other is not None and other is not v:
            raise VerificationError(f"two values are named {v.name!r} ({where}); names must be unique — "
                                    "create values through Graph methods")
        names[v.name] = v

    for v in graph.inputs:
        if v.producer is not None:
            raise VerificationError(f"graph input {v.name!r} has a producer")
        claim_name(v, "graph input")
        defined.add(id(v))
    for name, v in graph.constants.items():
        if v.const is None:
            raise VerificationError(f"constant {name!r} has no data")
        claim_name(v, "constant")
        defined.add(id(v))

    for pos, node in enumerate(graph.nodes):
        if node.graph is not graph:
            raise VerificationError(f"node {node.name} ({node.op.value}) is listed but not owned by the graph")
        for i, v in enumerate(node.inputs):
            if v is None:
                continue
            if id(v) not in defined:
                where = "a later node" if v.producer is not None and v.producer.graph is graph else "nothing in this graph"
                raise VerificationError(
                    f"node {node.name} ({node.op.value}) input {i} %{v.name} is defined by {where}; "
                    "keep graph.nodes topological (graph.toposort()) and only use values of this graph")
            if (node, i) not in v._uses:
                raise VerificationError(f"use-def chain out of sync: {node.name} input {i} is %{v.name} but "
                                        f"%{v.name}.uses does not list it; change edges only through Node/Value methods")
        for i, out in enumerate(node.outputs):
            if out.producer is not node or out.output_index != i:
                raise VerificationError(f"output {i} %{out.name} of {node.name} does not point back to its producer")
            claim_name(out, f"output of {node.name}")
            defined.add(id(out))

    for v in graph.values():
        for user, i in v._uses:
            if user.graph is not graph:
                raise VerificationError(f"%{v.name} lists a use by {user.name}, which is not in the graph; "
                                        "remove nodes with graph.remove()")
            if user.inputs[i] is not v:
                raise VerificationError(f"%{v.name} lists use ({user.name}, {i}) but that input is another value")

    if len(graph.outputs) != len(graph.output_names):
        raise VerificationError("graph.outputs and graph.output_names differ in length")
    for name, v in zip(graph.output_names, graph.outputs):
        if id(v) not in defined:
            raise VerificationError(f"graph output {name!r} (%{v.name}) is not defined in the graph")
