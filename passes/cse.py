"""Common-subexpression elimination.

Two nodes compute the same value when they apply the same op, with equal attributes, to the
same input values (for commutative binary ops, in either order); the later one is replaced by
the earlier. Two constants are the same when dtype, shape and bytes are equal (bytes, so that
-0.0 and 0.0 or two NaN payloads stay apart). Nodes are visited in topological order, so
duplicates of duplicates collapse in one run. The IR has no random or side-effecting ops, so
every node qualifies. Needs nothing before it; DCE afterwards is not required (removed nodes
are dropped here).
"""

from __future__ import annotations

from collections import defaultdict

from cortado.ir import Graph, Node, Op

from .rewrite import drop_constant

COMMUTATIVE = frozenset({Op.ADD, Op.MUL, Op.MAX, Op.MIN, Op.AND, Op.OR, Op.XOR, Op.EQUAL, Op.BITWISE_AND,
                         Op.BITWISE_OR, Op.BITWISE_XOR})


def node_key(node: Node):
    """What a node computes, as a hashable key (None when its attributes are unhashable)."""
    ins = tuple(None if v is None else id(v) for v in node.inputs)
    if node.op in COMMUTATIVE and len(ins) == 2 and None not in ins:
        ins = tuple(sorted(ins))
    key = (node.op, ins, node.attrs)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _dedupe_constants(graph: Graph) -> bool:
    buckets = defaultdict(list)
    for v in graph.constants.values():
        buckets[(v.dtype, tuple(v.shape))].append(v)
    changed = False
    for group in buckets.values():
        if len(group) < 2:
            continue
        first_of: dict[bytes, object] = {}
        for v in group:
            data = v.const.tobytes()
            kept = first_of.setdefault(data, v)
            if kept is not v and (v.uses or v.is_graph_output):
                v.replace_all_uses_with(kept)
                drop_constant(graph, v)
                changed = True
    return changed


def cse(graph: Graph) -> bool:
    changed = _dedupe_constants(graph)
    seen: dict = {}
    for node in graph.nodes:
        key = node_key(node)
        if key is None:
            continue
        kept = seen.setdefault(key, node)
        if kept is node:
            continue
        for old, new in zip(node.outputs, kept.outputs):
            old.replace_all_uses_with(new)
        graph.remove(node)
        changed = True
    return changed
