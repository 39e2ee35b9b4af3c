"""What a traced function returns: a tracer, or tuples / lists / dicts of them (and of plain
Python or numpy values, returned as they are). The structure is recorded once per trace and
rebuilt around the kernels' outputs on every call."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Op, Value
from .errors import JitError, user_location
from .tracer import Tracer
from .trace import Trace

__all__ = ["OutputTree", "record_outputs"]


class OutputTree:
    """A nested structure whose leaves are ("out", index) or ("const", value)."""

    def __init__(self, tree):
        self.tree = tree

    def build(self, results: list) -> Any:
        def walk(node):
            kind = node[0]
            if kind == "out":
                return results[node[1]]
            if kind == "const":
                return node[1]
            if kind == "dict":
                return {k: walk(v) for k, v in node[1]}
            items = [walk(v) for v in node[1]]
            return tuple(items) if kind == "tuple" else items
        return walk(self.tree)


def record_outputs(t: Trace, result) -> OutputTree:
    """Make every traced leaf a graph output (each distinct value once) and return the tree."""
    index: dict[int, int] = {}
    graph = t.graph

    def leaf(x):
        if isinstance(x, Tracer):
            if x._trace is not t:
                raise JitError("the function returned a traced array from another trace", where=user_location())
            v: Value = x._value
            if id(v) not in index:
                if v.producer is None:   # an input or constant returned as is still needs a buffer
                    v = t.apply(Op.IDENTITY, [v])
                index[id(x._value)] = len(graph.outputs)
                graph.add_output(v, "out")
            return ("out", index[id(x._value)])
        if isinstance(x, (tuple, list)):
            return ("tuple" if isinstance(x, tuple) else "list", [leaf(e) for e in x])
        if isinstance(x, dict):
            return ("dict", [(k, leaf(e)) for k, e in x.items()])
        if x is None or isinstance(x, (bool, int, float, str, np.generic, np.ndarray)):
            return ("const", x)
        raise JitError(f"a jitted function may return arrays, tuples, lists, dicts and scalars; it returned "
                       f"a {type(x).__name__}", where=user_location())

    tree = leaf(result)
    if len(graph.outputs) > 1:
        graph.output_names[:] = [f"out{i}" for i in range(len(graph.outputs))]
    return OutputTree(tree)
