"""Generators for ops whose results are discrete: comparisons, logic, Where, NaN/Inf tests,
integer and bitwise arithmetic. They are drawn only on request (``strategies.DISCRETE``):
a correct pass that reorders float arithmetic upstream may flip a comparison.

Boolean operands come from comparisons of pool values; integer operands from ``|x| * 3``
cast to an integer type (never a negative float cast to unsigned, which numpy leaves
platform-dependent).
"""

from __future__ import annotations

import numpy as np

from cortado.ir import DType, Op, Value

from .builder import GraphBuilder
from .opgen import generator

COMPARISONS = (Op.EQUAL, Op.LESS, Op.LESS_OR_EQUAL, Op.GREATER, Op.GREATER_OR_EQUAL)


def _compare(b: GraphBuilder, op: Op) -> Value | None:
    x = b.pick_float()
    if x is None:
        return None
    y = b.pick_float(lambda v: v is not x and b.broadcastable(x, v)) if b.flag() else None
    return b.add(op, [x, y if y is not None else b.constant(b.broadcast_shape_for(x.shape))])


def _boolean(b: GraphBuilder) -> Value | None:
    v = b.pick(lambda v: v.dtype is DType.BOOL)
    return v if v is not None else _compare(b, b.choice(COMPARISONS))


def _integer(b: GraphBuilder, dtype: DType = DType.INT32) -> Value | None:
    v = b.pick(lambda v: v.dtype is dtype)
    if v is not None:
        return v
    x = b.pick_float()
    if x is None:
        return None
    a = b.add(Op.ABS, [x])
    scaled = None if a is None else b.add(Op.MUL, [a, b.graph.add_constant(np.array(3.0, np.float32), "k")])
    return None if scaled is None else b.add(Op.CAST, [scaled], to=dtype)


generator(*COMPARISONS)(_compare)


@generator(Op.AND, Op.OR, Op.XOR)
def _logic(b: GraphBuilder, op: Op):
    p, q = _boolean(b), _boolean(b)
    return None if p is None or q is None else b.add(op, [p, q])


@generator(Op.NOT)
def _not(b: GraphBuilder, op: Op):
    p = _boolean(b)
    return None if p is None else b.add(op, [p])


@generator(Op.WHERE)
def _where(b: GraphBuilder, op: Op):
    cond = _boolean(b)
    x = b.pick_float()
    if cond is None or x is None:
        return None
    y = b.pick_float(lambda v: b.broadcastable(x, v) and b.broadcastable(cond, v))
    return b.add(op, [cond, x, y if y is not None else b.constant(())])


@generator(Op.IS_NAN, Op.IS_INF)
def _float_test(b: GraphBuilder, op: Op):
    x = b.pick_float()
    if x is None:
        return None
    extra = {"detect_negative": b.integer(0, 1), "detect_positive": b.integer(0, 1)} if op is Op.IS_INF else {}
    return b.add(op, [x], **extra)


@generator(Op.MOD)
def _mod(b: GraphBuilder, op: Op):
    if b.flag():
        x = b.pick_float()
        return None if x is None else b.add(op, [x, b.constant(b.broadcast_shape_for(x.shape), "away")], fmod=1)
    x = _integer(b)
    if x is None:
        return None
    d = b.graph.add_constant(np.array(b.choice([3, -2, 5]), np.int32), "d")
    return b.add(op, [x, d], fmod=b.integer(0, 1))


@generator(Op.BITWISE_AND, Op.BITWISE_OR, Op.BITWISE_XOR)
def _bitwise(b: GraphBuilder, op: Op):
    x, y = _integer(b), _integer(b)
    return None if x is None or y is None or not b.broadcastable(x, y) else b.add(op, [x, y])


@generator(Op.BITWISE_NOT)
def _bitwise_not(b: GraphBuilder, op: Op):
    x = _integer(b)
    return None if x is None else b.add(op, [x])


@generator(Op.BIT_SHIFT)
def _bit_shift(b: GraphBuilder, op: Op):
    x = _integer(b, DType.UINT8)
    if x is None:
        return None
    shift = b.graph.add_constant(np.array(b.integer(0, 3), np.uint8), "shift")
    return b.add(op, [x, shift], direction=b.choice(["LEFT", "RIGHT"]))
