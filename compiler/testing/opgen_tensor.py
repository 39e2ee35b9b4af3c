"""Generators for reductions, normalizations, scans, indexing and data movement.

Attributes are drawn in the registry's canonical form: reduction axes sorted, unique,
non-negative and non-empty; normalization and scan axes non-negative; Slice starts/ends/steps
one per axis and inside the dims; Gather indices in range (negative ones included, as ONNX
allows). An op that is not registered is simply never drawn (``supported`` filters), so these
generators can wait here for their ops.
"""

from __future__ import annotations

import numpy as np

from cortado.ir import DType, Op, Value

from .builder import F32, GraphBuilder
from .opgen import _at_least, generator


def _axes(b: GraphBuilder, shape) -> tuple[int, ...]:
    """A non-empty sorted subset of the axes of ``shape``; half the time one axis (the common
    case). A third of the draws over a tensor with degenerate dims (symbolic, or of size 1),
    two thirds if one is symbolic, take only those, all or one (a symbolic one if any): the axes on which "reducing changes
    nothing" rewrites are right for the size-1 dims and wrong for a symbolic one."""
    rank = len(shape)
    degenerate = tuple(i for i, d in enumerate(shape) if not isinstance(d, int) or d == 1)
    symbolic = [i for i, d in enumerate(shape) if not isinstance(d, int)]
    if degenerate and b.integer(0, 2) >= (1 if symbolic else 2):
        return degenerate if b.flag() else (b.choice(symbolic or degenerate),)
    if b.flag():
        return (b.integer(0, rank - 1),)
    picked = tuple(i for i in range(rank) if b.flag())
    return picked or (b.integer(0, rank - 1),)


def _static_float(b: GraphBuilder, min_rank: int = 1) -> Value | None:
    return b.pick_float(lambda v: v.type.is_static and v.type.rank >= min_rank)


REDUCTIONS = (Op.REDUCE_SUM, Op.REDUCE_MEAN, Op.REDUCE_MAX, Op.REDUCE_MIN, Op.REDUCE_PROD, Op.REDUCE_L1,
              Op.REDUCE_L2, Op.REDUCE_LOG_SUM, Op.REDUCE_LOG_SUM_EXP, Op.REDUCE_SUM_SQUARE)


@generator(*REDUCTIONS)
def _reduce(b: GraphBuilder, op: Op):
    # half the time a tensor with symbolic dims, if there is one: reducing over them is
    # where "the axis is degenerate" rewrites go wrong
    x = (b.pick_float(lambda v: v.type.rank >= 1 and not v.type.is_static) if b.flag() else None) or \
        b.pick_float(lambda v: v.type.rank >= 1)
    if x is None:
        return None
    if op is Op.REDUCE_LOG_SUM:
        x = _at_least(b, x, 0.5)
    return None if x is None else b.add(op, [x], axes=_axes(b, x.shape), keepdims=b.integer(0, 1))


@generator(Op.ARG_MAX, Op.ARG_MIN)
def _arg(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank >= 1)
    if x is None:
        return None
    return b.add(op, [x], axis=b.integer(0, x.type.rank - 1), keepdims=b.integer(0, 1),
                 select_last_index=b.integer(0, 1))


@generator(Op.HARDMAX, Op.LP_NORMALIZATION)
def _axis_op(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank >= 1)
    if x is None:
        return None
    extra = {"p": b.choice([2, 1])} if op is Op.LP_NORMALIZATION else {}
    return b.add(op, [x], axis=b.integer(0, x.type.rank - 1), **extra)


@generator(Op.LAYER_NORMALIZATION)
def _layer_norm(b: GraphBuilder, op: Op):
    x = _static_float(b)
    if x is None:
        return None
    axis = b.integer(0, x.type.rank - 1)
    scale = b.constant(x.shape[axis:], "positive")
    bias = b.constant(x.shape[axis:], scale=0.5) if b.flag() else None
    return b.add(op, [x, scale, bias], axis=axis, epsilon=b.choice([1e-5, 1e-3]))


@generator(Op.INSTANCE_NORMALIZATION, Op.GROUP_NORMALIZATION)
def _channel_norm(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank >= 3 and isinstance(v.shape[1], int))
    if x is None:
        return None
    c = x.shape[1]
    extra = {}
    if op is Op.GROUP_NORMALIZATION:
        extra["num_groups"] = b.choice([g for g in range(1, c + 1) if c % g == 0])
    scale, bias = b.constant((c,), "positive"), b.constant((c,), scale=0.5)
    return b.add(op, [x, scale, bias], epsilon=1e-5, **extra)


@generator(Op.MEAN_VARIANCE_NORMALIZATION)
def _mvn(b: GraphBuilder, op: Op):
    """MVN over drawn axes of ``x`` plus a ramp along them. Its epsilon is ONNX's fixed 1e-9, so
    over values that are all equal (a broadcast scalar) the result is a rounding error divided
    by its own size, anything in [-1, 1] on every correct implementation; the ramp (a normal
    constant over the static reduced axes) keeps the variance away from zero."""
    x = b.pick_float(lambda v: v.type.rank >= 1)
    if x is None:
        return None
    axes = _axes(b, x.shape)
    ramp = tuple(x.shape[i] if i in axes else 1 for i in range(x.type.rank))
    if all(isinstance(d, int) for d in ramp) and any(d > 1 for d in ramp):
        x = b.add(Op.ADD, [x, b.constant(ramp, reuse=False)]) or x
    return b.add(op, [x], axes=axes)


# CumProd joined the IR's op set later than CumSum; take it when this build has it
_SCANS = tuple(Op(n) for n in ("CumSum", "CumProd") if n in Op._value2member_map_)


@generator(*_SCANS)
def _scan(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank >= 1)
    if x is None:
        return None
    return b.add(op, [x], axis=b.integer(0, x.type.rank - 1), exclusive=b.integer(0, 1), reverse=b.integer(0, 1))


@generator(Op.TOP_K)
def _top_k(b: GraphBuilder, op: Op):
    x = b.pick_float(lambda v: v.type.rank >= 1 and isinstance(v.shape[-1], int))
    if x is None:
        return None
    axis = b.integer(0, x.type.rank - 1)
    n = x.shape[axis]
    if not isinstance(n, int):
        return None
    return b.add(op, [x], k=b.integer(1, n), axis=axis, largest=b.integer(0, 1), sorted=1)


@generator(Op.SLICE)
def _slice(b: GraphBuilder, op: Op):
    x = b.pick(lambda v: v.type.rank >= 1)
    if x is None:
        return None
    starts, ends, steps = [], [], []
    for d in x.shape:
        step = b.choice([1, 2, -1]) if isinstance(d, int) else 1
        if not isinstance(d, int):
            start, end = 0, d
        elif step > 0:
            start = b.integer(0, d - 1)
            end = b.integer(start + 1, d)
        else:
            start = b.integer(0, d - 1)
            end = b.integer(-1, start - 1)
        starts.append(start)
        ends.append(end)
        steps.append(step)
    return b.add(op, [x], starts=tuple(starts), ends=tuple(ends), steps=tuple(steps))


@generator(Op.GATHER)
def _gather(b: GraphBuilder, op: Op):
    x = b.pick(lambda v: v.type.rank >= 1 and any(isinstance(d, int) for d in v.shape))
    if x is None:
        return None
    axis = b.choice([i for i, d in enumerate(x.shape) if isinstance(d, int)])
    n = x.shape[axis]
    shape = b.choice([(), (b.integer(1, 3),), (2, 2)])
    idx = b.rng().integers(-n, n, shape).astype(np.int64)
    return b.add(op, [x, b.graph.add_constant(idx, "idx")], axis=axis)


@generator(Op.GATHER_ELEMENTS)
def _gather_elements(b: GraphBuilder, op: Op):
    x = b.pick(lambda v: v.type.rank >= 1 and v.type.is_static)
    if x is None:
        return None
    axis = b.integer(0, x.type.rank - 1)
    # ONNX lets indices be shorter than data on every axis
    shape = tuple(b.integer(1, d) for d in x.shape)
    idx = b.rng().integers(-x.shape[axis], x.shape[axis], shape).astype(np.int64)
    return b.add(op, [x, b.graph.add_constant(idx, "idx")], axis=axis)


@generator(Op.EXPAND)
def _expand(b: GraphBuilder, op: Op):
    x = b.pick(lambda v: v.type.rank <= 3)
    if x is None:
        return None
    shape = [b.integer(2, 3) if d == 1 and b.flag() else d for d in x.shape]
    if b.flag():
        shape = [b.integer(1, 3)] + shape
    return b.add(op, [x], shape=tuple(shape))


@generator(Op.TILE)
def _tile(b: GraphBuilder, op: Op):
    x = b.pick(lambda v: v.type.rank >= 1)
    return None if x is None else b.add(op, [x], repeats=tuple(b.integer(1, 2) for _ in x.shape))


@generator(Op.PAD)
def _pad(b: GraphBuilder, op: Op):
    x = b.pick(lambda v: v.type.rank >= 1 and v.type.is_static)
    if x is None:
        return None
    mode = b.choice(["constant", "edge", "reflect", "wrap"])
    begins, ends = [], []
    for d in x.shape:
        hi = d - 1 if mode == "reflect" else d if mode == "wrap" else 2
        lo = -1 if mode == "constant" and d > 2 else 0
        begins.append(b.integer(lo, max(lo, min(hi, 2))))
        ends.append(b.integer(lo, max(lo, min(hi, 2))))
    value = b.choice([0.0, 1.5]) if x.dtype.is_float else 0.0
    return b.add(op, [x], pads=tuple(begins + ends), mode=mode, value=value)


@generator(Op.SHAPE)
def _shape(b: GraphBuilder, op: Op):
    # half the time a tensor with symbolic dims, if there is one: their value is known only at run time
    x = (b.pick(lambda v: not v.type.is_static) if b.flag() else None) or b.pick()
    if x is None:
        return None
    start = 0 if b.flag() else b.integer(0, x.type.rank)     # the leading (batch) dim often
    return b.add(op, [x], start=start, end=b.integer(start, x.type.rank))


@generator(Op.SIZE)
def _size(b: GraphBuilder, op: Op):
    x = (b.pick(lambda v: not v.type.is_static) if b.flag() else None) or b.pick()
    return None if x is None else b.add(op, [x])


@generator(Op.RANGE)
def _range(b: GraphBuilder, op: Op):
    dtype = b.choice([F32, DType.INT64])
    return b.add(op, [], start=b.choice([0, 2]), delta=b.choice([1, 3, -1]), size=b.integer(1, 5), dtype=dtype)


@generator(Op.DEPTH_TO_SPACE, Op.SPACE_TO_DEPTH)
def _blocks(b: GraphBuilder, op: Op):
    if op is Op.DEPTH_TO_SPACE:
        x = b.pick(lambda v: v.type.rank == 4 and isinstance(v.shape[1], int) and v.shape[1] % 4 == 0)
    else:
        x = b.pick(lambda v: v.type.rank == 4 and all(isinstance(d, int) and d % 2 == 0 for d in v.shape[2:]))
    return None if x is None else b.add(op, [x], blocksize=2, mode=b.choice(["DCR", "CRD"]))


@generator(Op.TRILU)
def _trilu(b: GraphBuilder, op: Op):
    x = b.pick(lambda v: v.type.rank >= 2)
    return None if x is None else b.add(op, [x], upper=b.integer(0, 1), k=b.integer(-1, 1))


CONTINUOUS_TENSOR_OPS = (
    *REDUCTIONS, Op.LP_NORMALIZATION, Op.LAYER_NORMALIZATION, Op.INSTANCE_NORMALIZATION, Op.GROUP_NORMALIZATION,
    Op.MEAN_VARIANCE_NORMALIZATION, *_SCANS, Op.SLICE, Op.GATHER, Op.GATHER_ELEMENTS, Op.EXPAND,
    Op.TILE, Op.PAD, Op.SHAPE, Op.SIZE, Op.RANGE, Op.DEPTH_TO_SPACE, Op.SPACE_TO_DEPTH, Op.TRILU,
)
DISCRETE_TENSOR_OPS = (Op.ARG_MAX, Op.ARG_MIN, Op.HARDMAX, Op.TOP_K)
