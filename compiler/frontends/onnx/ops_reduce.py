"""Importers for reductions: Reduce* (axes as attribute or, from opset 13/18, as input) and
ArgMax / ArgMin."""

from __future__ import annotations

from ...ir import DType, Op
from ...ops.reduce import FLOAT_ONLY
from ...ops.shapes import normalize_axes, normalize_axis
from .context import UnsupportedHere
from .registry import onnx_op

_REDUCE = {
    "ReduceSum": Op.REDUCE_SUM, "ReduceMean": Op.REDUCE_MEAN, "ReduceMax": Op.REDUCE_MAX,
    "ReduceMin": Op.REDUCE_MIN, "ReduceProd": Op.REDUCE_PROD, "ReduceL1": Op.REDUCE_L1,
    "ReduceL2": Op.REDUCE_L2, "ReduceLogSum": Op.REDUCE_LOG_SUM, "ReduceLogSumExp": Op.REDUCE_LOG_SUM_EXP,
    "ReduceSumSquare": Op.REDUCE_SUM_SQUARE,
}
# the opset in which each op's axes moved from an attribute to the second input
_AXES_INPUT_SINCE = {"ReduceSum": 13}


def reduce_axes(ctx, node, inputs, attrs) -> list[int] | None:
    """The axes to reduce (None: the attribute or input is absent)."""
    since = _AXES_INPUT_SINCE.get(node.op_type, 18)
    if ctx.opset >= since:
        if len(inputs) < 2 or inputs[1] is None:
            return None
        return [int(a) for a in ctx.ints(inputs[1], f"{node.op_type}'s axes")]
    a = attrs.get("axes")
    return None if a is None else [int(v) for v in a]


def reduce(ctx, op: Op, x, axes, keepdims: bool, noop_with_empty_axes: bool = False):
    """A canonical reduction node (or Identity when the axes say there is nothing to do)."""
    rank = x.type.rank
    if axes is None or len(axes) == 0:
        if noop_with_empty_axes or rank == 0:
            return ctx.op(Op.IDENTITY, [x])
        axes = list(range(rank))
    return ctx.op(op, [x], axes=normalize_axes(axes, rank), keepdims=int(keepdims))


@onnx_op(*_REDUCE)
def _reduce(ctx, node, inputs, attrs):
    op = _REDUCE[node.op_type]
    x = inputs[0]
    if op in FLOAT_ONLY and not x.dtype.is_float:
        raise UnsupportedHere(f"{node.op_type} of {x.dtype} is not supported (floating-point inputs only)")
    if x.dtype is DType.BOOL and op not in (Op.REDUCE_MAX, Op.REDUCE_MIN):
        raise UnsupportedHere(f"{node.op_type} of bool is not defined")
    axes = reduce_axes(ctx, node, inputs, attrs)
    out = reduce(ctx, op, x, axes, bool(attrs.get("keepdims", 1)), bool(attrs.get("noop_with_empty_axes", 0)))
    return [_shape_product(ctx, op, x, out)]


def _shape_product(ctx, op, x, out):
    """``ReduceProd(Slice(Shape(x), 1))`` and ``ReduceSum`` of shape data (a flatten size
    computed from symbolic dims) stay shape data: the product or sum of the dims."""
    data = ctx.symdata.get(id(x))
    if data is None or x.type.rank != 1 or op not in (Op.REDUCE_PROD, Op.REDUCE_SUM) or out.type.numel != 1 \
            or out.producer is None or out.producer.op is not op:
        return out
    total = data[0] if data else (1 if op is Op.REDUCE_PROD else 0)
    for d in data[1:]:
        total = total * d if op is Op.REDUCE_PROD else total + d
    return ctx.static_or_shape(out, [total])


@onnx_op("ArgMax", "ArgMin")
def _argmax(ctx, node, inputs, attrs):
    x = inputs[0]
    if x.dtype is DType.BOOL:
        raise UnsupportedHere(f"{node.op_type} of bool is not supported")
    if x.type.rank == 0:
        raise UnsupportedHere(f"{node.op_type} of a scalar is not defined")
    axis = normalize_axis(int(attrs.get("axis", 0)), x.type.rank)
    op = Op.ARG_MAX if node.op_type == "ArgMax" else Op.ARG_MIN
    return [ctx.op(op, [x], axis=axis, keepdims=int(attrs.get("keepdims", 1)),
                   select_last_index=int(attrs.get("select_last_index", 0)))]
