"""Horizontal fusion: sibling contractions that read the same input become one.

    MatMul(x, W1) + b1, MatMul(x, W2) + b2, MatMul(x, W3) + b3
        => MatMul(x, [W1 W2 W3]) + [b1 b2 b3]  -> Slice per sibling
    Conv(x, W1, b1), Conv(x, W2, b2)   (same kernel, strides, pads, dilations, group 1)
        => Conv(x, [W1; W2], [b1; b2])        -> Slice per sibling (channels)

Attention's Q/K/V projections and Inception's 1x1 branches read their input once and launch
once. When every sibling is followed by the same unary elementwise op (a ReLU), the op is
applied once before the slices, so it stays an epilogue of the merged kernel. The slices are
views: consumers read their part of the merged output by index math. Weights must be
constants; new constants are made (shared constants are never written in place).
"""

from __future__ import annotations

import numpy as np

from cortado.ir import Graph, Node, Op, Value
from cortado.ops import Category, apply, get_op, infer_types

MIN_SIBLINGS = 2


def _const(v: Value | None):
    return None if v is None else v.const


def _matmul_sibling(node: Node, x: Value):
    """(weight, bias Add node or None) of a MatMul(x, W) with a constant 2-D W, else None."""
    if node.op is not Op.MATMUL or node.inputs[0] is not x:
        return None
    w = _const(node.inputs[1])
    if w is None or w.ndim != 2:
        return None
    out = node.outputs[0]
    users = out.users
    bias = None
    if len(users) == 1 and users[0].op is Op.ADD and not out.is_graph_output:
        add = users[0]
        other = add.inputs[1] if add.inputs[0] is out else add.inputs[0]
        c = _const(other)
        if c is not None and c.size == w.shape[1] and c.reshape(-1).shape == (w.shape[1],) \
                and tuple(add.outputs[0].shape) == tuple(out.shape):
            bias = add
    return w, bias


def _slice(graph: Graph, src: Value, axis: int, start: int, stop: int, before: Node) -> Value:
    rank = src.type.rank
    starts = tuple(start if a == axis else 0 for a in range(rank))
    ends = tuple(stop if a == axis else src.shape[a] for a in range(rank))
    return apply(graph, Op.SLICE, [src], starts=starts, ends=ends, steps=(1,) * rank, before=before).output


def _hoist_common_unary(graph: Graph, outs: list[Value]) -> tuple[list[Value], Node | None]:
    """If every sibling output feeds exactly one identical unary elementwise op, return those ops'
    outputs (to be replaced) and one of the ops as the template."""
    ops = []
    for v in outs:
        if len(v.uses) != 1 or v.is_graph_output:
            return outs, None
        u = v.uses[0][0]
        if get_op(u.op).category is not Category.ELEMENTWISE or len([i for i in u.inputs if i is not None]) != 1:
            return outs, None
        ops.append(u)
    first = ops[0]
    if any(o.op is not first.op or o.attrs != first.attrs for o in ops):
        return outs, None
    return [o.outputs[0] for o in ops], first


def fuse_sibling_matmuls(graph: Graph) -> bool:
    changed = False
    for x in list(graph.values()):
        sibs = []
        for node in x.users:
            found = _matmul_sibling(node, x)
            if found is not None:
                sibs.append((node, *found))
        by_k: dict = {}
        for node, w, bias in sibs:
            by_k.setdefault((w.shape[0], w.dtype.str, bias is not None), []).append((node, w, bias))
        for (_, _, has_bias), group in by_k.items():
            if len(group) < MIN_SIBLINGS:
                continue
            group.sort(key=lambda t: graph.position(t[0]))
            ends = [a.outputs[0] if a is not None else n.outputs[0] for n, _, a in group]
            if not _worth_splitting(ends):
                continue
            first = group[0][0]
            weight = graph.add_constant(np.concatenate([w for _, w, _ in group], axis=1), name="hfused_w")
            merged = apply(graph, Op.MATMUL, [x, weight], before=first).output
            outs = [n.outputs[0] for n, _, _ in group]
            if has_bias:
                b = np.concatenate([_const(a.inputs[1] if a.inputs[0] is n.outputs[0] else a.inputs[0]).reshape(-1)
                                    for n, _, a in group])
                merged = apply(graph, Op.ADD, [merged, graph.add_constant(b, name="hfused_b")], before=first).output
                outs = [a.outputs[0] for _, _, a in group]
            _split(graph, merged, outs, [w.shape[1] for _, w, _ in group], merged.type.rank - 1, first)
            changed = True
    if changed:
        graph.remove_unused()
        graph.toposort()
    return changed


def _conv_key(node: Node):
    a = node.attrs
    return (a.kernel_shape, a.strides, a.pads, a.dilations, a.group, node.inputs[1].const.dtype.str,
            len(node.inputs) > 2 and node.inputs[2] is not None)


def fuse_sibling_convs(graph: Graph) -> bool:
    changed = False
    for x in list(graph.values()):
        convs = [n for n in x.users if n.op is Op.CONV and n.inputs[0] is x and n.attrs.group == 1
                 and n.inputs[1].const is not None
                 and (len(n.inputs) < 3 or n.inputs[2] is None or n.inputs[2].const is not None)]
        by_key: dict = {}
        for n in convs:
            by_key.setdefault(_conv_key(n), []).append(n)
        for key, group in by_key.items():
            if len(group) < MIN_SIBLINGS:
                continue
            group.sort(key=graph.position)
            if not _worth_splitting([n.outputs[0] for n in group]):
                continue
            first = group[0]
            w = graph.add_constant(np.concatenate([n.inputs[1].const for n in group], axis=0), name="hfused_w")
            ins = [x, w]
            if key[-1]:
                ins.append(graph.add_constant(np.concatenate([n.inputs[2].const for n in group]), name="hfused_b"))
            a = first.attrs
            merged = apply(graph, Op.CONV, ins, before=first, kernel_shape=a.kernel_shape, strides=a.strides,
                           pads=a.pads, dilations=a.dilations, group=1).output
            _split(graph, merged, [n.outputs[0] for n in group], [n.inputs[1].shape[0] for n in group], 1, first)
            changed = True
    if changed:
        graph.remove_unused()
        graph.toposort()
    return changed


def _reads_slices_well(values: list[Value]) -> bool:
    """Slices of a merged result cost nothing to readers that index through views (contractions,
    convolutions, reductions). An elementwise reader would lose its place as an epilogue of the
    contraction and become a kernel of its own, so siblings with such readers stay apart."""
    for v in values:
        if v.is_graph_output:
            return False
        for user in v.users:
            cat = get_op(user.op).category
            if cat is Category.VIEW:
                if not _reads_slices_well(list(user.outputs)):
                    return False
            elif cat in (Category.ELEMENTWISE, Category.WINDOW):
                return False
    return True


def _worth_splitting(outs: list[Value]) -> bool:
    targets, _ = _hoist_common_unary(None, outs)
    return _reads_slices_well(targets)


def _split(graph: Graph, merged: Value, outs: list[Value], sizes: list[int], axis: int, before: Node) -> None:
    """Replace each sibling output by its slice of ``merged`` (after a hoisted common unary op)."""
    targets, unary = _hoist_common_unary(graph, outs)
    src = merged
    if unary is not None:
        types = infer_types(unary.op, unary.attrs, [merged.type])
        node = graph.add_node(unary.op, [merged], types, unary.attrs, name=f"{unary.name}_hoisted", before=before)
        src = node.outputs[0]
    start = 0
    for v, n in zip(targets, sizes):
        v.replace_all_uses_with(_slice(graph, src, axis, start, start + n, before))
        start += n


def fuse_siblings(graph: Graph) -> bool:
    """The pass: sibling MatMuls and Convs of one input merged (see the module doc)."""
    a = fuse_sibling_matmuls(graph)
    b = fuse_sibling_convs(graph)
    return a or b
