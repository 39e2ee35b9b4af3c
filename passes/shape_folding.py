"""Shape-computation folding: the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains
that exporters emit become constants when the shapes they read are static.

1. A node of the ``SHAPE`` category (Shape, Size) reads only its input's *type*; with a
   static input shape it is evaluated on a zero-strided stand-in array (no data needed) and
   replaced by a constant.
2. From there, small computations on integer or boolean constants (Gather, Concat, Reshape,
   arithmetic on shape vectors, the Cast of a dim to float) fold as well, up to
   ``max_elements`` per value: these are shape arithmetic, never model data, so folding them
   always pays (they would otherwise be tiny kernels that block fusion).

Float computations are left to ``fold_constants``, which applies a size cap. Reshape,
Expand and ConstantOfShape take their target shapes as attributes in the IR (the frontend
resolves them), so once a chain is constant its nodes are dead and DCE removes them.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import DType, Graph, Node
from compiler.ops import Category, get_op, run_reference

from .constant_folding import fold_node
from .rewrite import remove_if_dead

MAX_ELEMENTS = 64


def _fold_shape_node(graph: Graph, node: Node) -> bool:
    x = node.inputs[0] if node.inputs else None
    if x is None or not x.type.is_static:
        return False
    stand_in = np.broadcast_to(np.zeros((), x.dtype.numpy), tuple(int(d) for d in x.shape))
    args = [stand_in] + [None if v is None else v.const for v in node.inputs[1:]]
    if any(a is None for a, v in zip(args[1:], node.inputs[1:]) if v is not None):
        return False
    try:
        arrays = run_reference(node, args)
    except Exception:
        return False
    for out, arr in zip(node.outputs, arrays):
        out.replace_all_uses_with(graph.add_constant(np.array(arr), name=out.name))
    remove_if_dead(graph, node)
    return True


def _integral(v) -> bool:
    return v.dtype.is_int or v.dtype is DType.BOOL


def _is_shape_arithmetic(node: Node, max_elements: int) -> bool:
    """All inputs constant, outputs small, and integers involved (shape data, not weights)."""
    ins = [v for v in node.inputs if v is not None]
    if not ins or any(v.const is None for v in ins):
        return False
    if not all(o.type.is_static and int(o.type.numel) <= max_elements for o in node.outputs):
        return False
    return any(_integral(v) for v in ins) or any(_integral(o) for o in node.outputs)


def fold_shapes(graph: Graph, *, max_elements: int = MAX_ELEMENTS) -> bool:
    changed = False
    for node in graph.nodes:
        if get_op(node.op).category is Category.SHAPE:
            changed |= _fold_shape_node(graph, node)
        elif _is_shape_arithmetic(node, max_elements):
            changed |= fold_node(graph, node)
    return changed
