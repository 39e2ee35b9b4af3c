"""Reductions, normalizations and pooling: numpy reductions with ``keepdims`` over whole
tensors, pooling as one whole-tensor max or add per window tap (``helpers.pool``)."""

from __future__ import annotations

from cortado.ir import Op

from .render import Expr, cpu_op

_REDUCE = {Op.REDUCE_SUM: "sum", Op.REDUCE_MEAN: "mean", Op.REDUCE_MAX: "max", Op.REDUCE_MIN: "min",
           Op.REDUCE_PROD: "prod", Op.REDUCE_L1: "l1", Op.REDUCE_L2: "l2", Op.REDUCE_LOG_SUM: "logsum",
           Op.REDUCE_LOG_SUM_EXP: "logsumexp", Op.REDUCE_SUM_SQUARE: "sumsquare"}


def _axis(axis, rank):
    return axis + rank if axis < 0 else axis


@cpu_op(*_REDUCE)
def reduce(w, node, xs):
    a = node.attrs
    x = xs[0]
    axes = w.lit(tuple(a.axes))
    keep = bool(a.keepdims)
    kind = _REDUCE[node.op]
    if node.inputs[0].dtype.is_float:
        # an axis that may be empty (symbolic) takes the identity: max -inf, min +inf, mean 0
        if kind == "sum":
            return Expr(f"{x}.sum(axis={axes}, keepdims={keep})", True)
        if kind in ("max", "min"):
            return Expr(f"{x}.{kind}(axis={axes}, keepdims={keep}, initial={'-' if kind == 'max' else ''}np.inf)",
                        True)
        shape = node.inputs[0].shape
        if kind == "mean" and all(isinstance(shape[i], int) and shape[i] > 0 for i in a.axes):
            return Expr(f"{x}.mean(axis={axes}, keepdims={keep})", True)
    return Expr(f"{w.use('reduce')}({x}, {kind!r}, {axes}, {keep})", True)


@cpu_op(Op.ARG_MAX, Op.ARG_MIN)
def arg_reduce(w, node, xs):
    a = node.attrs
    axis = _axis(a.axis, len(node.inputs[0].shape))
    return Expr(f"{w.use('arg_reduce')}({xs[0]}, {axis}, {node.op is Op.ARG_MAX}, {bool(a.keepdims)}, "
                f"{bool(a.select_last_index)})", True)


@cpu_op(Op.GLOBAL_AVERAGE_POOL, Op.GLOBAL_MAX_POOL)
def global_pool(w, node, xs):
    axes = w.lit(tuple(range(2, len(node.inputs[0].shape))))
    fn = "mean" if node.op is Op.GLOBAL_AVERAGE_POOL else "max"
    return Expr(f"{xs[0]}.{fn}(axis={axes}, keepdims=True)", True)


@cpu_op(Op.SOFTMAX, Op.LOG_SOFTMAX)
def softmax(w, node, xs):
    axis = _axis(node.attrs.axis, len(node.inputs[0].shape))
    return Expr(f"{w.use('softmax')}({xs[0]}, {axis}, log={node.op is Op.LOG_SOFTMAX})", True)


@cpu_op(Op.LAYER_NORMALIZATION)
def layer_norm(w, node, xs):
    a = node.attrs
    x, scale, b = (list(xs) + [None])[:3]
    rank = len(node.inputs[0].shape)
    axes = w.lit(tuple(range(_axis(a.axis, rank), rank)))
    y = f"{w.use('normalize')}({x}, {axes}, {w.lit(float(a.epsilon))}) * {scale}"
    return Expr(y + (f" + {b}" if b is not None else ""), True)


def _channel(name, rank):
    return f"{name}.reshape((1, -1{', 1' * (rank - 2)}))"


@cpu_op(Op.INSTANCE_NORMALIZATION)
def instance_norm(w, node, xs):
    x, scale, b = xs
    rank = len(node.inputs[0].shape)
    axes = w.lit(tuple(range(2, rank)))
    return Expr(f"{w.use('normalize')}({x}, {axes}, {w.lit(float(node.attrs.epsilon))}) * {_channel(scale, rank)}"
                f" + {_channel(b, rank)}", True)


@cpu_op(Op.GROUP_NORMALIZATION)
def group_norm(w, node, xs):
    x, scale, b = xs
    a = node.attrs
    shape = node.inputs[0].shape
    rank = len(shape)
    grouped = w.shape((shape[0], a.num_groups, -1))
    norm = f"{w.use('normalize')}({x}.reshape{grouped}, (2,), {w.lit(float(a.epsilon))}).reshape({x}.shape)"
    return Expr(f"{norm} * {_channel(scale, rank)} + {_channel(b, rank)}", True)


@cpu_op(Op.MAX_POOL, Op.AVERAGE_POOL, Op.LP_POOL)
def pool(w, node, xs):
    a = node.attrs
    kind = {Op.MAX_POOL: "max", Op.AVERAGE_POOL: "avg", Op.LP_POOL: "lp"}[node.op]
    out = w.shape(node.outputs[0].shape[2:])
    p = f", p={a.p}" if node.op is Op.LP_POOL else ""
    return Expr(f"{w.use('pool')}({xs[0]}, {kind!r}, {w.lit(a.kernel_shape)}, {w.lit(a.strides)}, {w.lit(a.pads)}, "
                f"{w.lit(a.dilations)}, {a.ceil_mode}, {a.count_include_pad}, {out}{p})", True)


@cpu_op(Op.LRN)
def lrn(w, node, xs):
    a = node.attrs
    x = xs[0]
    lo, hi = (a.size - 1) // 2, a.size - 1 - (a.size - 1) // 2
    rank = len(node.inputs[0].shape)
    sq = f"{w.use('pad_const')}(np.square({x}), ({lo},{' 0,' * (rank - 2)}), ({hi},{' 0,' * (rank - 2)}), 0)"
    c = w.dim(node.inputs[0].shape[1])
    acc = f"sum({sq}[:, i:i + {c}] for i in range({a.size}))"
    return Expr(f"{x} / ({w.lit(float(a.bias))} + {w.lit(float(a.alpha / a.size))} * {acc}) ** "
                f"{w.lit(float(a.beta))}", True)
