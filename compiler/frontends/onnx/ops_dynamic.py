"""Importers for ops whose output size depends on the data: NonZero, NonMaxSuppression, Unique,
Compress, and TopK whose K is not known at compile time.

Each gets a fresh size symbol (``ops.dynamic.fresh_symbol``) that the runtime binds when the op
has run on the host. Compress is NonZero of the condition (a host step) and a Gather (a
kernel), so only the index computation leaves the device.
"""

from __future__ import annotations

from ...ir import DType, Op
from ...ir.dims import SymExpr
from ...ops.dynamic import fresh_symbol
from ...ops.shapes import normalize_axis
from .context import UnsupportedHere
from .registry import onnx_op


@onnx_op("NonZero")
def _nonzero(ctx, node, inputs, attrs):
    x = inputs[0]
    if x.type.rank == 0:
        raise UnsupportedHere("NonZero of a scalar is not supported")
    return [ctx.op(Op.NON_ZERO, [x], count=fresh_symbol(ctx.graph, "nonzero"))]


@onnx_op("NonMaxSuppression")
def _nms(ctx, node, inputs, attrs):
    boxes, scores = inputs[0], inputs[1]
    if boxes.dtype is not DType.FLOAT32 or scores.dtype is not DType.FLOAT32:
        raise UnsupportedHere("NonMaxSuppression takes float32 boxes and scores")
    rest = list(inputs[2:5])
    while rest and rest[-1] is None:
        rest.pop()
    return [ctx.op(Op.NON_MAX_SUPPRESSION, [boxes, scores, *rest], count=fresh_symbol(ctx.graph, "selected"),
                   center_point_box=int(attrs.get("center_point_box", 0)))]


@onnx_op("Unique")
def _unique(ctx, node, inputs, attrs):
    x = inputs[0]
    axis = attrs.get("axis")
    if axis is not None:
        axis = normalize_axis(int(axis), x.type.rank)
    return ctx.op_all(Op.UNIQUE, [x], count=fresh_symbol(ctx.graph, "unique"), axis=axis,
                      sorted=int(attrs.get("sorted", 1)))


@onnx_op("Compress")
def _compress(ctx, node, inputs, attrs):
    x, cond = inputs[0], inputs[1]
    if cond.type.rank != 1:
        raise UnsupportedHere(f"Compress takes a 1-D condition, got {cond.type}")
    axis = attrs.get("axis")
    if axis is None:
        x = ctx.op(Op.RESHAPE, [x], shape=(x.type.numel,))
        axis = 0
    else:
        axis = normalize_axis(int(axis), x.type.rank)
    n, length = x.shape[axis], cond.shape[0]
    if isinstance(n, int) and isinstance(length, int) and length > n:
        raise UnsupportedHere(f"Compress's condition has {length} entries for an axis of {n}")
    if isinstance(length, SymExpr) and length != n:
        raise UnsupportedHere("Compress needs a condition whose length is known or equals the axis")
    idx = ctx.op(Op.NON_ZERO, [cond], count=fresh_symbol(ctx.graph, "kept"))
    idx = ctx.op(Op.RESHAPE, [idx], shape=(idx.shape[1],))
    return [ctx.op(Op.GATHER, [x, idx], axis=axis)]


def topk_runtime(ctx, x, k, axis: int, attrs):
    """TopK whose K is data: a host step; the K best along ``axis`` come back sorted."""
    return ctx.op_all(Op.TOP_K_RUNTIME, [x, k], count=fresh_symbol(ctx.graph, "topk"), axis=axis,
                      largest=int(attrs.get("largest", 1)), sorted=int(attrs.get("sorted", 1)))
