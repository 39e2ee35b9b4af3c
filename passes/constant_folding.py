"""Constant folding through the numpy reference evaluator, with a size cap.

A node whose every input is a constant (or that has no inputs, like ConstantOfShape) and
whose outputs have static shapes is evaluated once at compile time with its op's reference
(the same code the reference evaluator runs, so the folded value is exactly what the graph
computed) and replaced by constants.

The cap keeps folding from ballooning a model: an output is folded only when it has at most
``max_bytes`` and is no larger than ``max_growth`` times its constant inputs together (or
``small_bytes``, for tiny results). A ConstantOfShape or broadcast of a scalar to a large
tensor therefore stays a node, computed by a kernel. A node whose reference fails is left
alone (the failure surfaces when the graph runs). Needs nothing before it; run DCE after it
to drop constants that are no longer read.
"""

from __future__ import annotations

import numpy as np

from cortado.ir import Graph, Node
from cortado.ops import run_reference

from .rewrite import remove_if_dead

MAX_BYTES = 1 << 22       # 4 MiB per folded value
SMALL_BYTES = 1 << 12     # results this small fold whatever their inputs
MAX_GROWTH = 1.0          # else a folded value may not outgrow its constant inputs


def fold_decision(node: Node, *, max_bytes: int = MAX_BYTES, small_bytes: int = SMALL_BYTES,
                  max_growth: float = MAX_GROWTH) -> str | None:
    """None when ``node`` may be folded, else the reason it is not."""
    inputs = [v for v in node.inputs if v is not None]
    if any(v.const is None for v in inputs):
        return "an input is not constant"
    if not all(o.type.is_static for o in node.outputs):
        return "an output has a symbolic shape"
    out_bytes = sum(int(o.type.nbytes) for o in node.outputs)
    in_bytes = sum(int(v.const.nbytes) for v in inputs)
    if out_bytes > max_bytes:
        return f"the result ({out_bytes} bytes) is over the {max_bytes}-byte cap"
    if out_bytes > small_bytes and out_bytes > max_growth * in_bytes:
        return f"the result ({out_bytes} bytes) would grow the model (inputs: {in_bytes} bytes)"
    return None


def fold_node(graph: Graph, node: Node) -> bool:
    """Evaluate ``node`` and replace its outputs by constants; False if its reference fails."""
    try:
        with np.errstate(all="ignore"):
            arrays = run_reference(node, [None if v is None else v.const for v in node.inputs])
    except Exception:
        return False
    for out, arr in zip(node.outputs, arrays):
        if tuple(arr.shape) != tuple(out.shape):
            return False
    for out, arr in zip(node.outputs, arrays):
        out.replace_all_uses_with(graph.add_constant(arr, name=out.name))
    remove_if_dead(graph, node)
    return True


def fold_constants(graph: Graph, *, max_bytes: int = MAX_BYTES, small_bytes: int = SMALL_BYTES,
                   max_growth: float = MAX_GROWTH) -> bool:
    changed = False
    for node in graph.nodes:
        if fold_decision(node, max_bytes=max_bytes, small_bytes=small_bytes, max_growth=max_growth) is None:
            changed |= fold_node(graph, node)
    return changed
