"""Shape-computation folding: the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains
that exporters emit become constants when the shapes they read are static.

1. A Shape or Size node reads only its input's *type*. Its value is computed as *shape
   data*: an array of dims, ints or symbolic expressions (``N``, ``3*N``). All ints: it
   becomes a constant. Otherwise the data flows on through the small ops that read it
   (Gather, Concat, Reshape, Slice, Add, Sub, Mul — their numpy references run on the
   object arrays, symbolic algebra included), and every result that comes out all-int is
   folded:
   ``Gather(Shape(x), 2)`` of an ``(N, 4, 8)`` tensor is the constant 8, ``Shape(x)[0]``
   stays a node. Exact: no guessing from sample bindings. Comparisons, Max, Min and Where
   are decided element by element where the answer holds for every binding (sizes are at
   least 0, so ``Equal(Shape(x), -1)`` is all false and ``Where`` of it picks the shape).
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

from cortado.ir import DType, Graph, Node, Op, prod
from cortado.ops import Category, get_op
from cortado.ops.shapes import DECIDABLE, decide

from .constant_folding import fold_node
from .rewrite import remove_if_dead

MAX_ELEMENTS = 64

# Ops that may read symbolic shape data: they only move elements (views) or do exact
# polynomial arithmetic on them. Division and modulo are left out. Comparisons, Max, Min and
# Where are evaluated element by element with ``decide``: an element that is the same for
# every binding (``N == -1`` is false) is folded, one that is not (is N == 1?) keeps the node.
SYMBOLIC_OK = frozenset({Op.GATHER, Op.CONCAT, Op.RESHAPE, Op.SLICE, Op.TRANSPOSE, Op.EXPAND, Op.TILE, Op.ADD,
                         Op.SUB, Op.MUL, Op.NEG, Op.IDENTITY}) | DECIDABLE | {Op.WHERE}


def _shape_data(node: Node) -> np.ndarray | None:
    """The output of a Shape or Size node as an object array of dims (ints and symbolic
    expressions), or None for other ops."""
    x = node.inputs[0]
    if node.op is Op.SHAPE:
        start, end = getattr(node.attrs, "start", 0), getattr(node.attrs, "end", x.type.rank)
        data = np.empty(len(x.shape[start:end]), dtype=object)
        data[:] = list(x.shape[start:end])
        return data
    if node.op is Op.SIZE:
        return np.array(prod(x.shape), dtype=object).reshape(())
    return None


def _decided(node: Node, arrays: list) -> list[np.ndarray] | None:
    """Max/Min/a comparison/Where on symbolic shape data, element by element with ``decide``;
    None when an element depends on the binding."""
    try:
        parts = np.broadcast_arrays(*[np.asarray(a, dtype=object) for a in arrays])
    except ValueError:
        return None
    flat = [p.reshape(-1) for p in parts]
    out = []
    for elems in zip(*flat):
        if node.op is Op.WHERE:
            cond, x, y = elems
            if not isinstance(cond, (int, np.integer, bool, np.bool_)):
                return None
            out.append(x if cond else y)
            continue
        x, y = (int(e) if isinstance(e, (np.integer, np.bool_)) else e for e in elems)
        r = decide(node.op, x, y)
        if r is None:
            return None
        out.append(r)
    result = np.empty(len(out), dtype=object)
    result[:] = out
    return [result.reshape(parts[0].shape)]


def _evaluate(node: Node, arrays: list) -> list[np.ndarray] | None:
    """The op's reference on (possibly symbolic) arrays, unconverted; None when it fails."""
    if node.op in DECIDABLE or node.op is Op.WHERE:
        out = _decided(node, arrays)
        if out is None or tuple(out[0].shape) != tuple(node.outputs[0].shape):
            return None
        return out
    try:
        with np.errstate(all="ignore"):
            out = get_op(node.op).reference(node.attrs, *arrays)
    except Exception:
        return None
    out = list(out) if isinstance(out, (tuple, list)) else [out]
    shapes_match = len(out) == len(node.outputs) and all(
        tuple(np.shape(a)) == tuple(o.shape) for a, o in zip(out, node.outputs))
    if not shapes_match:
        return None
    out = [np.asarray(a, dtype=object) for a in out]
    for a, o in zip(out, node.outputs):     # an integer result must hold integers (and dims)
        if not o.dtype.is_float and any(isinstance(e, (float, np.floating)) for e in a.reshape(-1)):
            return None
    return out


def _all_static(a: np.ndarray) -> bool:
    return all(isinstance(e, (int, np.integer, bool, np.bool_)) for e in a.reshape(-1))


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
    symbolic: dict[int, np.ndarray] = {}      # shape data that still holds symbolic dims
    for node in graph.nodes:
        if node.graph is not graph:
            continue
        ins = [v for v in node.inputs if v is not None]
        if get_op(node.op).category is Category.SHAPE:
            results = [_shape_data(node)]
        elif ins and node.op in SYMBOLIC_OK and any(id(v) in symbolic for v in ins) and all(
                id(v) in symbolic or v.const is not None for v in ins):
            if any(int(o.type.numel) > max_elements for o in node.outputs if o.type.is_static):
                continue
            arrays = [None if v is None else symbolic.get(id(v), v.const) for v in node.inputs]
            results = _evaluate(node, arrays)
        else:
            if _is_shape_arithmetic(node, max_elements):
                changed |= fold_node(graph, node)
            continue
        if results is None or any(r is None for r in results):
            continue
        if all(_all_static(r) for r in results):
            for out, r in zip(node.outputs, results):
                out.replace_all_uses_with(graph.add_constant(r.astype(out.dtype.numpy), name=out.name))
            remove_if_dead(graph, node)
            changed = True
        else:
            symbolic.update({id(o): r for o, r in zip(node.outputs, results)})
    return changed
