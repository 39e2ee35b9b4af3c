"""Per-op generators for random valid graphs (motifs, in ``motifs.py``, register here too).

A generator takes a ``GraphBuilder``, picks operands from its pool, draws attributes that the
op's shape rules accept (valid conv/pool windows, broadcastable constants, real permutations)
and adds one node, returning its output, or None when no operand fits. Attributes are drawn
in canonical form (non-negative axes, explicit pads), as frontends produce them.

``CONTINUOUS`` ops are the default: their outputs move little when inputs move by a rounding
error, so a semantics-preserving pass that reorders float arithmetic (batch-norm folding,
say) never looks like a counterexample. ``DISCRETE`` ops (comparisons, rounding, integer
casts) are available on request; on them a legitimate re-association can flip a result.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from cortado.ir import DType, Op, Value
from cortado.ops import get_op

from .builder import F32, GraphBuilder

Generator = Callable[[GraphBuilder], "Value | None"]
GENERATORS: dict[Op, Generator] = {}
MOTIFS: dict[str, Generator] = {}
# the ops each motif builds (None: any op, as "duplicate" copies whatever precedes it), so a
# draw weighted toward a pass's targets also picks the motifs that set them up
MOTIF_OPS: dict[str, "frozenset[Op] | None"] = {}


def generator(*ops: Op):
    def deco(fn):
        for op in ops:
            GENERATORS[op] = (lambda o: lambda b: fn(b, o))(op)
        return fn
    return deco


def motif(name: str, ops: "tuple[Op, ...] | None" = ()):
    def deco(fn):
        MOTIFS[name] = fn
        MOTIF_OPS[name] = None if ops is None else frozenset(ops)
        return fn
    return deco


def _static(v: Value) -> bool:
    return v.type.is_static


# -- elementwise -----------------------------------------------------------------------------
_UNARY_ATTRS: dict[Op, dict] = {
    Op.LEAKY_RELU: {"alpha": (0.01, 0.2)},
    Op.ELU: {"alpha": (1.0, 0.5)},
    Op.CELU: {"alpha": (1.0, 2.0)},
    Op.HARD_SIGMOID: {"alpha": (0.2, 0.5), "beta": (0.5, 0.1)},
    Op.THRESHOLDED_RELU: {"alpha": (1.0, 0.5)},
    Op.SHRINK: {"bias": (0.0, 0.5), "lambd": (0.5, 1.0)},
}


def _scalar(b: GraphBuilder, value: float) -> Value:
    return b.graph.add_constant(np.array(value, np.float32), "k")


def _bounded(b: GraphBuilder, x: Value, limit: float = 1.0) -> Value | None:
    """tanh(x) * limit: inside (-limit, limit)."""
    t = b.add(Op.TANH, [x])
    return t if limit == 1.0 or t is None else b.add(Op.MUL, [t, _scalar(b, limit)])


def _at_least(b: GraphBuilder, x: Value, low: float) -> Value | None:
    """|x| + low: at least ``low``."""
    a = b.add(Op.ABS, [x])
    return None if a is None else b.add(Op.ADD, [a, _scalar(b, low)])


# ops defined (or finite) on part of the line read a value mapped into that part first
_DOMAIN = {
    Op.EXP: lambda b, x: _bounded(b, x), Op.SINH: lambda b, x: _bounded(b, x),
    Op.COSH: lambda b, x: _bounded(b, x), Op.TAN: lambda b, x: _bounded(b, x),
    Op.ASIN: lambda b, x: _bounded(b, x, 0.9), Op.ACOS: lambda b, x: _bounded(b, x, 0.9),
    Op.ATANH: lambda b, x: _bounded(b, x, 0.9), Op.LOG: lambda b, x: _at_least(b, x, 0.5),
    Op.SQRT: lambda b, x: _at_least(b, x, 0.5), Op.RECIPROCAL: lambda b, x: _at_least(b, x, 0.5),
    Op.ACOSH: lambda b, x: _at_least(b, x, 1.0),
    # finite everywhere, but of a large argument only the rounding of that argument is left:
    # a correct reordering upstream moves sin(1e3 + e) by far more than a tolerance
    Op.SIN: lambda b, x: _bounded(b, x, 4.0), Op.COS: lambda b, x: _bounded(b, x, 4.0),
}


# ops defined on x >= 0 read a value known to be non-negative as it is (sqrt(x*x),
# sqrt(relu(x)): the patterns rewrites match) instead of through a domain guard
_NON_NEGATIVE_DOMAIN = {Op.SQRT}
_NON_NEGATIVE_OPS = {Op.ABS, Op.RELU, Op.SIGMOID, Op.SOFTPLUS, Op.EXP, Op.SQRT, Op.REDUCE_SUM_SQUARE, Op.REDUCE_L1,
                     Op.REDUCE_L2}


def non_negative(v: Value) -> bool:
    """Whether every element of ``v`` is >= 0 (or NaN) for every input, as far as its producer tells."""
    if v.is_constant:
        return bool(np.all(~(v.const < 0)))
    p = v.producer
    if p is None:
        return False
    if p.op in _NON_NEGATIVE_OPS:
        return True
    if p.op is Op.MUL:
        return p.inputs[0] is p.inputs[1]
    if p.op is Op.POW:
        e = p.inputs[1]
        return e.is_constant and e.const.size == 1 and float(e.const.reshape(-1)[0]) == 2.0
    return False


@generator(Op.RELU, Op.NEG, Op.ABS, Op.TANH, Op.SIGMOID, Op.SIN, Op.COS, Op.ATAN, Op.SOFTSIGN, Op.SOFTPLUS,
           Op.ERF, Op.GELU, Op.MISH, Op.HARD_SWISH, Op.LEAKY_RELU, Op.ELU, Op.CELU, Op.SELU, Op.HARD_SIGMOID,
           Op.IDENTITY, Op.DROPOUT, Op.FLOOR, Op.CEIL, Op.ROUND, Op.SIGN, Op.EXP, Op.SINH, Op.COSH, Op.TAN,
           Op.ASIN, Op.ACOS, Op.ATANH, Op.LOG, Op.SQRT, Op.RECIPROCAL, Op.ACOSH, Op.ASINH, Op.THRESHOLDED_RELU,
           Op.SHRINK)
def _unary(b: GraphBuilder, op: Op):
    x = b.pick_float()
    if x is None:
        return None
    attrs = {k: b.choice(vs) for k, vs in _UNARY_ATTRS.get(op, {}).items()}
    if op is Op.GELU:
        attrs["approximate"] = b.choice(["none", "tanh"])
    if op in _DOMAIN and not (op in _NON_NEGATIVE_DOMAIN and non_negative(x)):
        x = _DOMAIN[op](b, x)
    return None if x is None else b.add(op, [x], **attrs)


def _second_operand(b: GraphBuilder, x: Value, kind: str = "normal") -> Value:
    """Another pool value that broadcasts with ``x``, or a new constant that does. In a share
    of draws the operands algebraic rewrites match on: ``x`` itself (``x*x``, ``x-x``,
    ``max(x, x)``) or a constant filled with 0, 1 or -1 (``x*0``, ``x+0``, ``x*1``)."""
    if kind == "normal":
        pick = b.integer(0, 7)
        if pick == 3:
            y = b.pick_float(lambda v: v is not x and b.broadcastable(x, v))
            if y is not None:
                return y
        elif pick == 4:
            return x
        elif pick >= 5:
            return b.constant(b.broadcast_shape_for(x.shape), b.choice(["zeros", "ones", "minus_ones"]))
    return b.constant(b.broadcast_shape_for(x.shape), kind, reuse=kind == "normal")


@generator(Op.ADD, Op.SUB, Op.MUL, Op.MAX, Op.MIN)
def _binary(b: GraphBuilder, op: Op):
    x = b.pick_float()
    if x is None:
        return None
    y = _second_operand(b, x)
    a, c = (x, y) if b.flag() else (y, x)
    return b.add(op, [a, c])


@generator(Op.DIV)
def _div(b: GraphBuilder, op: Op):
    x = b.pick_float()
    if x is None:
        return None
    return b.add(op, [x, _second_operand(b, x, "away")])


@generator(Op.POW)
def _pow(b: GraphBuilder, op: Op):
    x = b.pick_float()
    if x is None:
        return None
    return b.add(op, [x, b.graph.add_constant(np.array(b.choice([2.0, 1.0]), np.float32), "exp")])


@generator(Op.PRELU)
def _prelu(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank >= 1)
    if x is None:
        return None
    shape = tuple(1 if not isinstance(d, int) or b.flag() else d for d in x.shape[b.integer(0, x.type.rank - 1):])
    return b.add(op, [x, b.constant(shape, scale=0.3)])


@generator(Op.CLIP)
def _clip(b: GraphBuilder, op: Op):
    x = b.pick_float()
    if x is None:
        return None
    lo = b.graph.add_constant(np.array(-b.choice([1.0, 0.5, 0.0]), np.float32), "lo") if b.flag() else None
    hi = b.graph.add_constant(np.array(b.choice([1.0, 6.0]), np.float32), "hi") if b.flag() else None
    return b.add(op, [x, lo, hi])


@generator(Op.CAST)
def _cast(b: GraphBuilder, op: Op):
    x = b.pick_float()
    if x is None:
        return None
    to = b.choice([DType.FLOAT64, DType.FLOAT32])
    y = b.add(op, [x], to=to)
    if y is not None and to is DType.FLOAT64 and b.flag():
        y = b.add(op, [y], to=DType.FLOAT32)
    return y


@generator(Op.SOFTMAX, Op.LOG_SOFTMAX)
def _softmax(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank >= 1)
    if x is None:
        return None
    return b.add(op, [x], axis=b.integer(0, x.type.rank - 1))


@generator(Op.BATCH_NORMALIZATION)
def _batchnorm(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank >= 2 and isinstance(v.shape[1], int))
    if x is None:
        return None
    c = x.shape[1]
    return b.add(op, [x, b.constant((c,), "positive"), b.constant((c,), scale=0.5), b.constant((c,), scale=0.5),
                      b.constant((c,), "positive")], epsilon=b.choice([1e-5, 1e-3]))


# -- contractions and windows ----------------------------------------------------------------
@generator(Op.MATMUL)
def _matmul(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank >= 1 and isinstance(v.shape[-1], int))
    if x is None:
        return None
    k = x.shape[-1]
    rows = x.shape[-2] if x.type.rank >= 2 else None
    # n = rows half the time: then B @ A type-checks too, so a swap must show in the numbers
    n = rows if isinstance(rows, int) and b.flag() else b.integer(1, b.max_dim)
    shape = (k,) if b.integer(0, 4) == 4 else (k, n)
    return b.add(op, [x, b.constant(shape, scale=1 / math.sqrt(k))])


@generator(Op.GEMM)
def _gemm(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank == 2 and _static(v))
    if x is None:     # flatten a static tensor to 2-D first, as models feed Gemm
        y = b.pick_float(lambda v: v.type.rank >= 1 and _static(v))
        if y is None:
            return None
        lead = y.shape[0] if y.type.rank > 1 else 1
        x = b.add(Op.RESHAPE, [y], shape=(lead, int(y.type.numel) // lead))
        if x is None:
            return None
    trans_a = b.integer(0, 1)
    m, k = (x.shape[1], x.shape[0]) if trans_a else x.shape
    n = k if b.flag() else b.integer(1, b.max_dim)     # square B: transB must show in the numbers
    trans_b = b.integer(0, 1)
    w = b.constant((n, k) if trans_b else (k, n), scale=1 / math.sqrt(k))
    c = None
    if b.flag():
        c = b.constant(b.choice([(n,), (1, n), (m, n), (m, 1), ()]), scale=0.5)
    return b.add(op, [x, w, c], alpha=b.choice([1.0, 0.5]), beta=b.choice([1.0, 2.0]), transA=trans_a,
                 transB=trans_b)


def _window(b: GraphBuilder, x: Value, *, pool: bool):
    """kernel, strides, pads, dilations that fit the spatial dims of ``x``."""
    sp = x.type.rank - 2
    kernel, strides, dil, begins, ends = [], [], [], [], []
    for d in x.shape[2:]:
        k = b.integer(1, 3)
        dl = 1 if b.integer(0, 3) < 3 else 2
        lim = k * dl - 1 if pool else 1
        pb, pe = b.integer(0, min(1, lim)), b.integer(0, min(1, lim))
        while (k - 1) * dl + 1 > d + pb + pe and k > 1:
            k -= 1
        kernel.append(k)
        strides.append(b.integer(1, 2))
        dil.append(dl)
        begins.append(min(pb, k * dl - 1) if pool else pb)
        ends.append(min(pe, k * dl - 1) if pool else pe)
    return dict(kernel_shape=tuple(kernel), strides=tuple(strides), pads=tuple(begins + ends),
                dilations=tuple(dil)), sp


def _spatial(b: GraphBuilder, ranks=(3, 4)) -> Value | None:
    return b.pick_float(lambda v: v.type.rank in ranks and all(isinstance(d, int) for d in v.shape[1:]))


@generator(Op.CONV)
def _conv(b: GraphBuilder, op: Op):
    x = _spatial(b)
    if x is None:
        return None
    c = x.shape[1]
    group = b.choice([g for g in range(1, c + 1) if c % g == 0])
    m = group * b.integer(1, 2 if group > 1 else 3)
    attrs, sp = _window(b, x, pool=False)
    fan_in = (c // group) * math.prod(attrs["kernel_shape"])
    w = b.constant((m, c // group, *attrs["kernel_shape"]), scale=1 / math.sqrt(fan_in))
    bias = b.constant((m,), scale=0.5) if b.flag() else None
    return b.add(op, [x, w, bias], group=group, **attrs)


@generator(Op.CONV_TRANSPOSE)
def _conv_transpose(b: GraphBuilder, op: Op):
    x = _spatial(b)
    if x is None:
        return None
    c = x.shape[1]
    group = b.choice([g for g in range(1, c + 1) if c % g == 0])
    attrs, sp = _window(b, x, pool=False)
    attrs["output_padding"] = tuple(b.integer(0, s - 1) for s in attrs["strides"])
    w = b.constant((c, b.integer(1, 2), *attrs["kernel_shape"]), scale=1 / math.sqrt(c))
    return b.add(op, [x, w], group=group, **attrs)


@generator(Op.MAX_POOL, Op.AVERAGE_POOL, Op.LP_POOL)
def _pool(b: GraphBuilder, op: Op):
    x = _spatial(b)
    if x is None:
        return None
    attrs, _ = _window(b, x, pool=True)
    if op is not Op.MAX_POOL:
        attrs["dilations"] = (1,) * len(attrs["dilations"])
        attrs["pads"] = tuple(min(p, k - 1) for p, k in zip(attrs["pads"], attrs["kernel_shape"] * 2))
    extra = {"count_include_pad": b.integer(0, 1)} if op is Op.AVERAGE_POOL else {}
    return b.add(op, [x], ceil_mode=b.integer(0, 1), **attrs, **extra)


@generator(Op.GLOBAL_AVERAGE_POOL, Op.GLOBAL_MAX_POOL)
def _global_pool(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank >= 3)
    return None if x is None else b.add(op, [x])


@generator(Op.LRN)
def _lrn(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank >= 3)
    return None if x is None else b.add(op, [x], size=b.choice([1, 3, 5]), alpha=1e-2, beta=0.75, bias=1.0)


# -- data movement ---------------------------------------------------------------------------
@generator(Op.TRANSPOSE)
def _transpose(b: GraphBuilder, op: Op):
    x = b.pick()
    if x is None:
        return None
    perm = list(range(x.type.rank))
    for i in range(len(perm) - 1, 0, -1):    # a drawn Fisher-Yates shuffle
        j = b.integer(0, i)
        perm[i], perm[j] = perm[j], perm[i]
    return b.add(op, [x], perm=tuple(perm))


def _factor(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@generator(Op.RESHAPE)
def _reshape(b: GraphBuilder, op: Op):
    x = b.pick(_static)
    if x is None:
        return None
    rank = b.integer(0, 4)
    dims = [1] * rank
    for f in _factor(int(x.type.numel)):
        if rank == 0:
            return None
        dims[b.integer(0, rank - 1)] *= f
    return b.add(op, [x], shape=tuple(dims))


@generator(Op.CONCAT)
def _concat(b: GraphBuilder, op: Op):
    x = b.pick(lambda v: v.type.rank >= 1)
    if x is None:
        return None
    axis = b.integer(0, x.type.rank - 1)
    parts = [x]
    for _ in range(b.integer(0, 2)):
        same = b.pick(lambda v: v.dtype is x.dtype and v.type.rank == x.type.rank and all(
            v.shape[i] == x.shape[i] for i in range(x.type.rank) if i != axis))
        if same is None or b.flag():
            if not x.type.is_static:
                continue
            shape = list(x.shape)
            shape[axis] = b.integer(1, 3)
            same = b.constant(shape, dtype=x.dtype)
        parts.append(same)
    return b.add(op, parts, axis=axis)


@generator(Op.CONSTANT_OF_SHAPE)
def _constant_of_shape(b: GraphBuilder, op: Op):
    shape = tuple(b.integer(1, 3) for _ in range(b.integer(0, 3)))
    return b.add(op, [], shape=shape, value=b.choice([0.0, 1.0, 2.5]), dtype=F32)


CONTINUOUS = (
    Op.RELU, Op.ADD, Op.MUL, Op.SUB, Op.TRANSPOSE, Op.RESHAPE, Op.CONV, Op.BATCH_NORMALIZATION, Op.NEG, Op.TANH,
    Op.SIGMOID, Op.ABS, Op.MAX, Op.MIN, Op.DIV, Op.CONCAT, Op.GEMM, Op.MATMUL, Op.MAX_POOL, Op.AVERAGE_POOL,
    Op.GLOBAL_AVERAGE_POOL, Op.SOFTMAX, Op.IDENTITY, Op.DROPOUT, Op.CAST, Op.CLIP, Op.LEAKY_RELU, Op.PRELU,
    Op.POW, Op.SIN, Op.COS, Op.ATAN, Op.SOFTSIGN, Op.SOFTPLUS, Op.ERF, Op.GELU, Op.MISH, Op.HARD_SWISH, Op.ELU,
    Op.CELU, Op.SELU, Op.HARD_SIGMOID, Op.LOG_SOFTMAX, Op.GLOBAL_MAX_POOL, Op.LP_POOL, Op.LRN, Op.CONV_TRANSPOSE,
    Op.CONSTANT_OF_SHAPE, Op.EXP, Op.SINH, Op.COSH, Op.TAN, Op.ASIN, Op.ACOS, Op.ATANH, Op.LOG, Op.SQRT,
    Op.RECIPROCAL, Op.ACOSH, Op.ASINH,
)
# a rounding difference upstream can flip these by a whole unit (see the module doc)
DISCRETE = (Op.FLOOR, Op.CEIL, Op.ROUND, Op.SIGN, Op.THRESHOLDED_RELU, Op.SHRINK, Op.EQUAL, Op.LESS,
            Op.LESS_OR_EQUAL, Op.GREATER, Op.GREATER_OR_EQUAL, Op.AND, Op.OR, Op.XOR, Op.NOT, Op.WHERE,
            Op.IS_NAN, Op.IS_INF, Op.MOD, Op.BITWISE_AND, Op.BITWISE_OR, Op.BITWISE_XOR, Op.BITWISE_NOT,
            Op.BIT_SHIFT)


def registered(op: Op) -> bool:
    try:
        get_op(op)
    except KeyError:
        return False
    return True
