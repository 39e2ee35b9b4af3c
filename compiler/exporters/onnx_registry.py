"""What the ONNX exporter knows per IR op: its emitter and the first opset that has its form.

Emitters register here (``@emits(Op.X)``) from every exporter module, and ``min_opset``
records an op (or an attribute value) that arrived after ``BASE_OPSET``. The registry is its
own module so that the per-op emitter modules and the graph exporter both import it and not
each other.
"""

from __future__ import annotations

from typing import Callable

from ..ir import Graph, Node, Op

BASE_OPSET = 17

# emitter(ctx, node, input names, output names) -> ONNX nodes; ctx is the exporter's context
# (names, fresh names, int64 initializers)
Emitter = Callable[[object, Node, list, list], list]
EMITTERS: dict[Op, Emitter] = {}

# the first opset that has the op in the form the IR uses, when newer than BASE_OPSET: a
# version, or a function of the node (some attribute values arrived later than the op)
OPSET_RULES: dict[Op, Callable[[Node], int]] = {}


def emits(*ops: Op):
    def deco(fn: Emitter) -> Emitter:
        for op in ops:
            EMITTERS[op] = fn
        return fn
    return deco


def min_opset(op: Op, rule: int | Callable[[Node], int]) -> None:
    OPSET_RULES[op] = rule if callable(rule) else (lambda node, v=rule: v)


def needed_opset(graph: Graph) -> int:
    return max([BASE_OPSET] + [OPSET_RULES[n.op](n) for n in graph.nodes if n.op in OPSET_RULES])
