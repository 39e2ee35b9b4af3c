"""Motifs: small patterns the random graphs contain so that passes find work.

Each motif adds a few nodes that one pass or another rewrites — duplicated subexpressions
(CSE), neutral constants (algebraic simplification; some broadcast the result up, which must
stay), transpose pairs and NHWC islands (sinking, layout), reshape chains, Conv/Gemm followed
by batch norm or a per-channel affine (BN folding), shape arithmetic (shape folding), no-op
casts and identities, sibling contractions of one input (horizontal fusion).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cortado.ir import Op
from cortado.ops import get_op

from .builder import F32, GraphBuilder
from .opgen import CONTINUOUS, GENERATORS, motif, registered

@motif("duplicate", ops=None)
def _duplicate(b: GraphBuilder):
    """The same computation twice (for CSE); binary ops sometimes with operands swapped."""
    nodes = [n for n in b.graph.nodes if len(n.outputs) == 1]
    if not nodes:
        return None
    n = nodes[-1 - b.integer(0, len(nodes) - 1)]
    ins = list(n.inputs)
    if len(ins) == 2 and n.op in (Op.ADD, Op.MUL, Op.MAX, Op.MIN, Op.SUB) and b.flag():
        ins.reverse()
    attrs = {f.name: getattr(n.attrs, f.name) for f in dataclasses.fields(n.attrs)}
    return b.add(n.op, ins, **attrs)


@motif("neutral", ops=(Op.ADD, Op.MUL, Op.SUB, Op.DIV, Op.POW))
def _neutral(b: GraphBuilder):
    """x+0, x-0, x*1, x/1, x**1 with a neutral constant that may broadcast the result up."""
    x = b.pick_float()
    if x is None:
        return None
    op, kind = b.choice([(Op.ADD, "zeros"), (Op.MUL, "ones"), (Op.SUB, "zeros"), (Op.DIV, "ones"),
                         (Op.POW, "ones")])
    if b.flag():
        c = b.constant(b.broadcast_shape_for(x.shape), kind)
    else:   # a constant that surely broadcasts the result up: one more leading dim
        c = b.constant((b.integer(2, 3),) + tuple(d if isinstance(d, int) else 1 for d in x.shape), kind)
    a, y = (c, x) if op in (Op.ADD, Op.MUL) and b.flag() else (x, c)
    return b.add(op, [a, y])


@motif("transpose_pair", ops=(Op.TRANSPOSE, Op.RELU, Op.TANH, Op.NEG))
def _transpose_pair(b: GraphBuilder):
    """A transpose, something elementwise or nothing, then the inverse (or another) transpose."""
    x = b.pick(lambda v: v.type.rank >= 2)
    if x is None:
        return None
    t = GENERATORS[Op.TRANSPOSE](b)
    if t is None:
        return None
    if b.flag():
        t = b.add(b.choice([Op.RELU, Op.TANH, Op.NEG]), [t]) if t.dtype is F32 else t
    perm = t.producer.attrs.perm if t.producer.op is Op.TRANSPOSE else None
    if perm is None:
        return t
    inverse = tuple(sorted(range(len(perm)), key=lambda i: perm[i]))
    return b.add(Op.TRANSPOSE, [t], perm=inverse if b.integer(0, 3) else perm)


@motif("nhwc_island", ops=(Op.TRANSPOSE, Op.RELU, Op.ADD, Op.MUL))
def _nhwc_island(b: GraphBuilder):
    """Channels-last islands between NCHW ops: NCHW->NHWC, elementwise, NHWC->NCHW."""
    x = b.pick_float(lambda v: v.type.rank == 4)
    if x is None:
        return None
    t = b.add(Op.TRANSPOSE, [x], perm=(0, 2, 3, 1))
    for _ in range(b.integer(1, 2)):
        op = b.prefer([Op.RELU, Op.ADD, Op.MUL])
        other = [] if op is Op.RELU else [b.constant(b.broadcast_shape_for(t.shape, allow_grow=False), reuse=False)]
        t = b.add(op, [t, *other]) or t
    return b.add(Op.TRANSPOSE, [t], perm=(0, 3, 1, 2))


@motif("reshape_chain", ops=(Op.RESHAPE,))
def _reshape_chain(b: GraphBuilder):
    y = GENERATORS[Op.RESHAPE](b)
    return y if y is None else (GENERATORS[Op.RESHAPE](b) or y)


@motif("conv_affine", ops=(Op.CONV, Op.GEMM, Op.BATCH_NORMALIZATION, Op.MUL, Op.ADD))
def _conv_affine(b: GraphBuilder):
    """Conv or Gemm followed by BatchNormalization or a per-channel Mul/Add (for BN folding)."""
    y = GENERATORS[Op.CONV](b) if b.flag() else GENERATORS[Op.GEMM](b)
    if y is None:
        return None
    c = y.shape[1]
    if b.flag():
        return b.add(Op.BATCH_NORMALIZATION, [y, b.constant((c,), "positive"), b.constant((c,), scale=0.5),
                                              b.constant((c,), scale=0.5), b.constant((c,), "positive")])
    shape = (c,) + (1,) * (y.type.rank - 2) if b.flag() else (1, c) + (1,) * (y.type.rank - 2)
    if b.flag():
        y = b.add(Op.MUL, [y, b.constant(shape, "positive")]) or y
    return b.add(Op.ADD, [y, b.constant(shape, scale=0.5)]) if b.flag() else y


@motif("noop", ops=(Op.IDENTITY, Op.DROPOUT, Op.CAST, Op.CONCAT))
def _noop(b: GraphBuilder):
    """Identity, Dropout, a Cast to the same type, a single-input Concat."""
    x = b.pick()
    if x is None:
        return None
    kind = b.integer(0, 3)
    if kind == 0:
        return b.add(Op.IDENTITY, [x])
    if kind == 1:
        return b.add(Op.DROPOUT, [x])
    if kind == 2:
        return b.add(Op.CAST, [x], to=x.dtype)
    return b.add(Op.CONCAT, [x], axis=0) if x.type.rank else None


@motif("shape_chain", ops=(Op.SHAPE, Op.CONCAT, Op.RESHAPE, Op.CAST, Op.MUL))
def _shape_chain(b: GraphBuilder):
    """Shape arithmetic as exporters emit it: a tensor's shape (a Shape node when that op is
    registered, else its constant value), unsqueezed, concatenated with more dims, cast to
    float and mixed into the data."""
    x = b.pick(lambda v: v.type.is_static and v.type.rank >= 1)
    if x is None:
        return None
    shape = None
    if registered(Op.SHAPE):
        shape = b.add(Op.SHAPE, [x], start=0, end=x.type.rank)
    if shape is None:
        shape = b.graph.add_constant(np.array(x.shape, np.int64), "shape")
    parts = [shape]
    if b.flag():
        parts.append(b.graph.add_constant(np.array([b.integer(1, 4)], np.int64), "dims"))
    joined = b.add(Op.CONCAT, parts, axis=0) if len(parts) > 1 else shape
    n = joined.shape[0]
    joined = b.add(Op.RESHAPE, [joined], shape=(1, n)) or joined
    as_float = b.add(Op.CAST, [joined], to=F32)
    return as_float if as_float is None or b.flag() else b.add(Op.MUL, [as_float, b.constant((n,), scale=0.1)])


@motif("siblings", ops=(Op.MATMUL, Op.CONV, Op.ADD, Op.RELU, Op.TANH, Op.REDUCE_SUM))
def _siblings(b: GraphBuilder):
    """Two or three MatMuls (with or without a bias Add) or Convs of one input, each read by a
    contraction or a shared unary op, as attention's Q/K/V projections and Inception's 1x1
    branches are (for horizontal fusion)."""
    if b.flag():
        x = b.pick_float(lambda v: v.type.rank >= 2 and v.type.is_static)
        if x is None:
            return None
        k = x.shape[-1]
        outs = []
        for _ in range(b.integer(2, 3)):
            n = b.integer(1, 4)
            y = b.add(Op.MATMUL, [x, b.constant((k, n), scale=1 / np.sqrt(k))])
            if y is not None and b.flag():
                y = b.add(Op.ADD, [y, b.constant((n,), scale=0.5)]) or y
            outs.append(y)
    else:
        x = b.pick_float(lambda v: v.type.rank == 4 and v.type.is_static)
        if x is None:
            return None
        c, kernel = x.shape[1], b.choice([(1, 1), (1, 2)])
        outs = []
        for _ in range(b.integer(2, 3)):
            m = b.integer(1, 3)
            bias = b.constant((m,), scale=0.5) if b.flag() else None
            outs.append(b.add(Op.CONV, [x, b.constant((m, c, *kernel), scale=1 / np.sqrt(c)), bias],
                              kernel_shape=kernel))
    if any(y is None for y in outs):
        return None
    if b.flag():                                     # the same unary op after every sibling
        op = b.choice([Op.RELU, Op.TANH])
        outs = [b.add(op, [y]) for y in outs]
    # readers that index through views (an elementwise reader keeps the siblings apart)
    reads = [b.add(Op.REDUCE_SUM, [y], axes=(y.type.rank - 1,), keepdims=1) for y in outs]
    return reads[-1]


@motif("absorbing", ops=(Op.MUL, Op.POW, Op.SUB, Op.DIV))
def _absorbing(b: GraphBuilder):
    """x*0, x**0, x-x, x/x: constants that fix the result only for finite x (NaN*0 and
    Inf-Inf are NaN), the folds simplifiers get wrong; read with special-value inputs."""
    x = (b.pick_float(lambda v: v.is_graph_input) if b.integer(0, 2) else None) or \
        b.pick_float(lambda v: not v.is_constant) or b.pick_float()   # inputs carry the special values
    if x is None:
        return None
    kind = b.integer(0, 5)
    if kind <= 2:
        c = b.constant(b.broadcast_shape_for(x.shape), "zeros")
        return b.add(Op.MUL, [x, c] if b.flag() else [c, x])
    if kind == 3:
        return b.add(Op.POW, [x, b.graph.add_constant(np.array(0.0, np.float32), "exp")])
    return b.add(Op.SUB if kind == 4 else Op.DIV, [x, x])


def _attributed() -> list[Op]:
    """Drawn one-input ops that carry attributes (Softmax's axis, LeakyRelu's alpha, ...)."""
    out = []
    for op in CONTINUOUS:
        if op in GENERATORS and registered(op):
            d = get_op(op)
            if d.max_inputs == 1 and dataclasses.is_dataclass(d.attrs) and dataclasses.fields(d.attrs):
                out.append(op)
    return out


@motif("near_duplicate", ops=None)
def _near_duplicate(b: GraphBuilder):
    """The op of an existing node again on the same first operand, attributes drawn afresh
    (Softmax on another axis, LeakyRelu with another alpha): what a CSE must keep apart."""
    nodes = [n for n in b.graph.nodes if len(n.outputs) == 1 and n.inputs and n.inputs[0] is not None
             and n.op in GENERATORS]
    with_attrs = [n for n in nodes if dataclasses.fields(n.attrs) and len(n.inputs) == 1]
    if not with_attrs or b.integer(0, 2) == 2:     # a one-input op with attributes, to twin
        made = GENERATORS[b.choice(_attributed())](b)
        if made is not None and len(made.producer.inputs) == 1:
            with_attrs = [made.producer]
    nodes = with_attrs or nodes
    if not nodes:
        return None
    saved = b.pool
    y = None
    for _ in range(4):     # redrawn while the attributes come out equal or the type differs
        n = nodes[-1 - b.integer(0, len(nodes) - 1)]      # (another node may fit better)
        b.pool = [n.inputs[0]]              # the generator can only pick the same operand
        mark = len(b.graph)
        try:
            y = GENERATORS[n.op](b)
        finally:
            added = b.pool[1:]
            b.pool = saved
        if y is not None and y.producer.attrs != n.attrs and y.type == n.output.type:
            break
        for extra in reversed(b.graph.nodes[mark:]):   # an equal twin is the "duplicate" motif's
            b.graph.remove(extra)
        y = None
    b.pool = saved + (added if y is not None else [])
    return y


@motif("constant_expr", ops=(Op.NEG, Op.ABS, Op.ADD, Op.MUL, Op.SUB, Op.RELU, Op.TRANSPOSE, Op.RESHAPE,
                             Op.CONCAT, Op.CAST))
def _constant_expr(b: GraphBuilder):
    """An op whose operands are all constants (what constant folding evaluates), read by the
    data: the fold must keep the value, dtype and shape."""
    x = b.pick_float()
    if x is None:
        return None
    c = b.constant(b.broadcast_shape_for(x.shape, allow_grow=False), reuse=False)
    saved = b.pool
    b.pool = [c]
    try:
        op = b.choice([Op.NEG, Op.ABS, Op.ADD, Op.MUL, Op.SUB, Op.RELU, Op.TRANSPOSE, Op.CAST])
        y = GENERATORS[op](b)
    finally:
        added = b.pool[1:]
        b.pool = saved + added
    if y is None:
        return None
    return b.add(Op.ADD, [x, y]) if b.broadcastable(x, y) and y.dtype is x.dtype else y


@motif("square", ops=(Op.MUL, Op.POW, Op.SQRT, Op.ABS))
def _square(b: GraphBuilder):
    """x*x or x**2, sometimes under Sqrt or Abs: sqrt(x*x) = |x|, not x (a rewrite right
    only for x >= 0)."""
    x = b.pick_float(lambda v: not v.is_constant) or b.pick_float()
    if x is None:
        return None
    if b.integer(0, 2):
        y = b.add(Op.MUL, [x, x])
    else:
        y = b.add(Op.POW, [x, b.graph.add_constant(np.array(2.0, np.float32), "exp")])
    after = Op.SQRT if b.flag() else b.choice([Op.ABS, None])
    return y if y is None or after is None else b.add(after, [y])


@motif("scaled_activation", ops=(Op.MUL, Op.RELU, Op.LEAKY_RELU, Op.ABS, Op.ELU, Op.GELU, Op.SOFTPLUS,
                                 Op.SIGMOID, Op.MAX_POOL))
def _scaled_activation(b: GraphBuilder):
    """act(x * c), sometimes read by Abs: commuting the scale through the activation, or
    dropping an Abs of an "always non-negative" activation, is right only for some signs."""
    x = b.pick_float(lambda v: not v.is_constant) or b.pick_float()
    if x is None:
        return None
    y = b.add(Op.MUL, [x, b.constant(b.broadcast_shape_for(x.shape, allow_grow=False), reuse=False)])
    if y is None:
        return None
    acts = [Op.LEAKY_RELU, Op.ELU, Op.GELU, Op.SOFTPLUS, Op.SIGMOID]
    if b.wanted & {Op.RELU, *acts}:
        act = b.prefer([Op.RELU, *acts])      # the pass's own activation(s)
    else:
        act = Op.RELU if b.flag() else b.choice(acts)
    y = b.add(act, [y], **({"alpha": b.choice([0.01, 0.2])} if act is Op.LEAKY_RELU else {}))
    return y if y is None or b.flag() else b.add(Op.ABS, [y])


@motif("shared_constant", ops=(Op.SUB, Op.ADD, Op.MUL, Op.DIV))
def _shared_constant(b: GraphBuilder):
    """One constant read by two nodes, ``x - c`` and ``y + c`` (or ``*``, ``/``), both results
    used: a rewrite that changes the constant in place for one reader changes the other."""
    x = b.pick_float(lambda v: not v.is_constant) or b.pick_float()
    if x is None:
        return None
    c = b.constant(b.broadcast_shape_for(x.shape, allow_grow=False), "away", reuse=False)
    first = b.add(b.prefer([Op.SUB, Op.DIV]), [x, c])
    if first is None:
        return None
    y = first if b.flag() else x
    second = b.add(b.prefer([Op.ADD, Op.MUL, Op.SUB, Op.DIV]), [y, c])
    return first if second is None else (b.add(Op.ADD, [first, second]) or second)
