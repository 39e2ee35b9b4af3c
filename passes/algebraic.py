"""Algebraic simplification: rewrites that remove work without changing any result.

    Identity(x) = Dropout(x) = x                (inference: Dropout is the identity)
    x + 0 = 0 + x = x - 0 = x * 1 = 1 * x = x / 1 = x ** 1 = x
                                                only when the constant does not broadcast the
                                                result to a bigger shape or another dtype
    Max(x, x) = Min(x, x) = x
    Cast(x, to=dtype(x)) = x
    Cast(Cast(x, T), dtype(x)) = x              when T holds every value of dtype(x) exactly
    Transpose(x, identity) = x
    Transpose(Transpose(x, p), q) = Transpose(x, p o q)   (or x when p o q is the identity)
    Reshape(x, shape(x)) = x
    Reshape(Reshape(x, s), t) = Reshape(x, t)
    Concat([x]) = x;  Clip(x) with no bounds = x
    Expand / Tile / Pad / Slice that keep the shape (and, for Pad and Slice, pad nothing and
      step by 1) = x
    1x1 pooling with stride 1 and no padding, global pooling over 1x1 = x

Each rule is *pattern, check, rewrite*: it returns the replacement value, True when it
rewrote the node in place, or a short reason why it declined. The pass sweeps
the graph until nothing changes, so it reaches a fixed point on its own. Needs nothing before
it; run DCE afterwards for constants that lose their last user.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from cortado.ir import DType, Graph, Node, Op, Value
from cortado.ops import make_attrs

from .rewrite import compose_perms, is_filled, remove_if_dead, replace_result

Rule = Callable[[Graph, Node], "Value | bool | str"]
RULES: dict[Op, list[Rule]] = {}


def rule(*ops: Op):
    def deco(fn: Rule) -> Rule:
        for op in ops:
            RULES.setdefault(op, []).append(fn)
        return fn
    return deco


def keeps_type(node: Node, x: Value) -> bool:
    """Replacing the node's result by ``x`` keeps shape and dtype (no broadcast is lost)."""
    return node.output.type == x.type


@rule(Op.IDENTITY, Op.DROPOUT)
def _passthrough(graph, node):
    return node.inputs[0]


_NEUTRAL = {Op.ADD: (0.0, True), Op.SUB: (0.0, False), Op.MUL: (1.0, True), Op.DIV: (1.0, False),
            Op.POW: (1.0, False)}   # (neutral element, may it stand on the left)


@rule(*_NEUTRAL)
def _neutral_operand(graph, node):
    value, left_ok = _NEUTRAL[node.op]
    a, b = node.inputs
    if node.op is Op.DIV and not a.dtype.is_float:
        return "integer division is evaluated through float64 (not exact for huge ints)"
    candidates = [(a, b)] + ([(b, a)] if left_ok else [])
    for x, c in candidates:
        if is_filled(c, value):
            if not keeps_type(node, x):
                return f"the neutral constant broadcasts {x.type} to {node.output.type}"
            return x
    return "no neutral constant operand"


@rule(Op.MAX, Op.MIN)
def _same_operands(graph, node):
    a, b = node.inputs
    return a if a is b else "operands differ"


# dtype -> dtypes that represent each of its values exactly (so a round trip is the identity)
_EXACT = {
    DType.BOOL: {DType.INT8, DType.INT16, DType.INT32, DType.INT64, DType.UINT8, DType.UINT16, DType.UINT32,
                 DType.UINT64, DType.FLOAT16, DType.BFLOAT16, DType.FLOAT32, DType.FLOAT64},
    DType.INT8: {DType.INT16, DType.INT32, DType.INT64, DType.FLOAT16, DType.FLOAT32, DType.FLOAT64},
    DType.UINT8: {DType.INT16, DType.INT32, DType.INT64, DType.UINT16, DType.UINT32, DType.UINT64, DType.FLOAT16,
                  DType.FLOAT32, DType.FLOAT64},
    DType.INT16: {DType.INT32, DType.INT64, DType.FLOAT32, DType.FLOAT64},
    DType.INT32: {DType.INT64, DType.FLOAT64},
    DType.FLOAT16: {DType.FLOAT32, DType.FLOAT64},
    DType.BFLOAT16: {DType.FLOAT32, DType.FLOAT64},
    DType.FLOAT32: {DType.FLOAT64},
}


@rule(Op.CAST)
def _cast(graph, node):
    x = node.inputs[0]
    if x.dtype is node.output.dtype:
        return x
    inner = x.producer
    if inner is not None and inner.op is Op.CAST:
        src = inner.inputs[0]
        if src.dtype is node.output.dtype and x.dtype in _EXACT.get(src.dtype, ()):
            return src
        return f"round trip through {x.dtype} may lose {src.dtype} values"
    return "a real conversion"


@rule(Op.TRANSPOSE)
def _transpose(graph, node):
    x = node.inputs[0]
    perm = tuple(node.attrs.perm)
    if perm == tuple(range(len(perm))):
        return x
    inner = x.producer
    if inner is None or inner.op is not Op.TRANSPOSE:
        return "not a transpose of a transpose"
    combined = compose_perms(inner.attrs.perm, perm)
    if combined == tuple(range(len(combined))):
        return inner.inputs[0]
    node.attrs = make_attrs(Op.TRANSPOSE, perm=combined)
    node.replace_input(0, inner.inputs[0])
    remove_if_dead(graph, inner)
    return True


@rule(Op.RESHAPE)
def _reshape(graph, node):
    x = node.inputs[0]
    if keeps_type(node, x):
        return x
    inner = x.producer
    if inner is None or inner.op is not Op.RESHAPE:
        return "a real reshape"
    node.replace_input(0, inner.inputs[0])
    remove_if_dead(graph, inner)
    return True


@rule(Op.CONCAT)
def _concat(graph, node):
    return node.inputs[0] if len(node.inputs) == 1 else "several inputs"


@rule(Op.CLIP)
def _clip(graph, node):
    return node.inputs[0] if all(v is None for v in node.inputs[1:]) else "has a bound"


@rule(Op.EXPAND, Op.TILE)
def _same_shape_copy(graph, node):
    x = node.inputs[0]
    return x if keeps_type(node, x) else "changes the shape"


def _field(node: Node, name: str):
    a = node.attrs
    if not dataclasses.is_dataclass(a) or name not in {f.name for f in dataclasses.fields(a)}:
        return None
    return getattr(a, name)


@rule(Op.PAD)
def _pad(graph, node):
    x, pads = node.inputs[0], _field(node, "pads")
    if pads is None:
        return "unknown Pad attributes"
    return x if keeps_type(node, x) and all(p == 0 for p in pads) else "pads something"


@rule(Op.SLICE)
def _slice(graph, node):
    x, steps = node.inputs[0], _field(node, "steps")
    if steps is None:
        return "unknown Slice attributes"
    # with unit steps, a slice as long as the axis starts at 0 and ends at its end
    return x if keeps_type(node, x) and all(s == 1 for s in steps) else "selects a part"


@rule(Op.MAX_POOL, Op.AVERAGE_POOL)
def _trivial_pool(graph, node):
    a, x = node.attrs, node.inputs[0]
    trivial = all(k == 1 for k in a.kernel_shape) and all(s == 1 for s in a.strides) and not any(a.pads)
    return x if trivial and keeps_type(node, x) else "a real window"


@rule(Op.GLOBAL_AVERAGE_POOL, Op.GLOBAL_MAX_POOL)
def _trivial_global_pool(graph, node):
    x = node.inputs[0]
    return x if keeps_type(node, x) else "pools more than one element"


def _simplify_once(graph: Graph) -> bool:
    changed = False
    for node in graph.nodes:
        if node.graph is not graph:
            continue   # removed by an earlier rewrite in this sweep
        for fn in RULES.get(node.op, ()):
            result = fn(graph, node)
            if isinstance(result, Value):
                replace_result(graph, node, result)
                changed = True
                break
            if result is True:
                changed = True
                break
    return changed


def simplify(graph: Graph, *, max_sweeps: int = 16) -> bool:
    changed = False
    for _ in range(max_sweeps):
        if not _simplify_once(graph):
            break
        changed = True
    return changed

