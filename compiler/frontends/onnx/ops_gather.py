"""Importers for indexing ops: Gather (with shape data), GatherElements, GatherND,
ScatterElements / Scatter, ScatterND, OneHot."""

from __future__ import annotations

import numpy as np

from ...ir import DType, Op
from ...ops.shapes import normalize_axis
from .context import UnsupportedHere
from .registry import onnx_op


def _indices(node, idx):
    if idx.dtype not in (DType.INT32, DType.INT64):
        raise UnsupportedHere(f"{node.op_type} indices of {idx.dtype} are not supported (int32/int64)")


@onnx_op("Gather")
def _gather(ctx, node, inputs, attrs):
    x, idx = inputs[0], inputs[1]
    _indices(node, idx)
    axis = normalize_axis(int(attrs.get("axis", 0)), x.type.rank)
    data = ctx.symdata.get(id(x))
    if data is not None and x.type.rank == 1 and idx.const is not None:
        picked = [data[int(i)] for i in np.asarray(idx.const).reshape(-1)]
        out = ctx.op(Op.GATHER, [x, idx], axis=axis)
        return [ctx.static_or_shape(out, picked)]
    return [ctx.op(Op.GATHER, [x, idx], axis=axis)]


@onnx_op("GatherElements")
def _gather_elements(ctx, node, inputs, attrs):
    x, idx = inputs[0], inputs[1]
    _indices(node, idx)
    return [ctx.op(Op.GATHER_ELEMENTS, [x, idx], axis=normalize_axis(int(attrs.get("axis", 0)), x.type.rank))]


@onnx_op("GatherND")
def _gather_nd(ctx, node, inputs, attrs):
    x, idx = inputs[0], inputs[1]
    _indices(node, idx)
    if idx.type.rank == 0 or not isinstance(idx.shape[-1], int):
        raise UnsupportedHere("GatherND needs indices whose last dim is static")
    return [ctx.op(Op.GATHER_ND, [x, idx], batch_dims=int(attrs.get("batch_dims", 0)))]


def _reduction(node, attrs):
    r = attrs.get("reduction", "none")
    if r not in ("none", "add", "mul", "max", "min"):
        raise UnsupportedHere(f"reduction={r!r} is not supported")
    return r


@onnx_op("ScatterElements", "Scatter")
def _scatter_elements(ctx, node, inputs, attrs):
    x, idx, upd = inputs[:3]
    _indices(node, idx)
    if x.dtype is DType.BOOL and _reduction(node, attrs) != "none":
        raise UnsupportedHere("scatter reductions of bool are not supported")
    return [ctx.op(Op.SCATTER_ELEMENTS, [x, idx, upd], axis=normalize_axis(int(attrs.get("axis", 0)), x.type.rank),
                   reduction=_reduction(node, attrs))]


@onnx_op("ScatterND")
def _scatter_nd(ctx, node, inputs, attrs):
    x, idx, upd = inputs[:3]
    _indices(node, idx)
    if idx.type.rank == 0 or not isinstance(idx.shape[-1], int):
        raise UnsupportedHere("ScatterND needs indices whose last dim is static")
    if x.dtype is DType.BOOL and _reduction(node, attrs) != "none":
        raise UnsupportedHere("scatter reductions of bool are not supported")
    return [ctx.op(Op.SCATTER_ND, [x, idx, upd], reduction=_reduction(node, attrs))]


@onnx_op("OneHot")
def _one_hot(ctx, node, inputs, attrs):
    idx, depth, values = inputs[:3]
    if idx.dtype is DType.BOOL:
        raise UnsupportedHere("OneHot of bool indices is not supported")
    d = ctx.scalar(depth, "OneHot's depth")
    d = int(np.trunc(d)) if isinstance(d, float) else int(d)
    if d < 1:
        raise UnsupportedHere(f"depth {d} must be positive")
    if values.type.numel != 2:
        raise UnsupportedHere("OneHot values must hold two elements")
    if values.type.rank != 1:
        values = ctx.op(Op.RESHAPE, [values], shape=(2,))
    axis = normalize_axis(int(attrs.get("axis", -1)), idx.type.rank + 1)
    return [ctx.op(Op.ONE_HOT, [idx, values], axis=axis, depth=d)]


@onnx_op("TensorScatter")
def _tensor_scatter(ctx, node, inputs, attrs):
    cache, upd = inputs[0], inputs[1]
    idx = inputs[2] if len(inputs) > 2 else None
    if idx is not None:
        _indices(node, idx)
    axis = normalize_axis(int(attrs.get("axis", -2)), cache.type.rank)
    if axis == 0:
        raise UnsupportedHere("TensorScatter along the batch axis is not defined")
    return [ctx.op(Op.TENSOR_SCATTER, [cache, upd, idx], axis=axis, mode=attrs.get("mode", "linear"))]
