"""Importers for normalizations: LayerNormalization (with its optional Mean / InvStdDev
outputs), InstanceNormalization, GroupNormalization (opset 18's per-group scale converted to
per-channel), LpNormalization, MeanVarianceNormalization and Hardmax."""

from __future__ import annotations

import numpy as np

from ...ir import DType, Op
from ...ops.shapes import normalize_axes, normalize_axis
from cortado.runtime.errors import ModelFormatError

from .context import UnsupportedHere
from .ops_nn import _softmax_like
from .registry import onnx_op


def _float(node, x):
    if not x.dtype.is_float:
        raise UnsupportedHere(f"{node.op_type} of {x.dtype} is not supported (floating-point inputs only)")


@onnx_op("LayerNormalization")
def _layer_norm(ctx, node, inputs, attrs):
    x, scale = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    _float(node, x)
    rank = x.type.rank
    axis = normalize_axis(int(attrs.get("axis", -1)), rank)
    eps = float(attrs.get("epsilon", 1e-5))
    y = ctx.op(Op.LAYER_NORMALIZATION, [x, scale, b], axis=axis, epsilon=eps)
    outs = [y, None, None]
    if any(node.output[1:3]):
        # Mean and InvStdDev have the stash type (float32 unless stash_type says double)
        stash = ctx.dtype(int(attrs.get("stash_type", 1)), "stash_type")
        xs = x if x.dtype == stash else ctx.op(Op.CAST, [x], to=stash)
        axes = tuple(range(axis, rank))
        mean = ctx.op(Op.REDUCE_MEAN, [xs], axes=axes, keepdims=1)
        d = ctx.op(Op.SUB, [xs, mean])
        var = ctx.op(Op.REDUCE_MEAN, [ctx.op(Op.MUL, [d, d])], axes=axes, keepdims=1)
        inv = ctx.op(Op.RECIPROCAL, [ctx.op(Op.SQRT, [ctx.op(Op.ADD, [var, ctx.const(eps, dtype=stash)])])])
        outs = [y, mean, inv]
    return outs


@onnx_op("InstanceNormalization")
def _instance_norm(ctx, node, inputs, attrs):
    _float(node, inputs[0])
    return [ctx.op(Op.INSTANCE_NORMALIZATION, inputs[:3], epsilon=float(attrs.get("epsilon", 1e-5)))]


@onnx_op("GroupNormalization")
def _group_norm(ctx, node, inputs, attrs):
    x, scale, bias = inputs[:3]
    _float(node, x)
    g = int(attrs["num_groups"]) if "num_groups" in attrs else None
    if g is None:
        raise UnsupportedHere("num_groups is required")
    if g < 1:
        raise ModelFormatError(f"num_groups is {g}; it must be a positive integer")
    c = x.shape[1]
    if not isinstance(c, int) or c % g:
        raise UnsupportedHere(f"{c} channels do not split into {g} groups")
    if ctx.opset < 21 and scale.shape == (g,) and g != c:
        scale, bias = (_per_channel(ctx, t, g, c // g) for t in (scale, bias))
    return [ctx.op(Op.GROUP_NORMALIZATION, [x, scale, bias], num_groups=g, epsilon=float(attrs.get("epsilon", 1e-5)))]


def _per_channel(ctx, t, groups, per):
    if t.const is not None:
        return ctx.const(np.repeat(t.const, per))
    col = ctx.op(Op.RESHAPE, [t], shape=(groups, 1))
    return ctx.op(Op.RESHAPE, [ctx.op(Op.EXPAND, [col], shape=(groups, per))], shape=(groups * per,))


@onnx_op("LpNormalization")
def _lp_norm(ctx, node, inputs, attrs):
    x = inputs[0]
    _float(node, x)
    p = int(attrs.get("p", 2))
    if p not in (1, 2):
        raise UnsupportedHere(f"p={p} is not supported (1 or 2)")
    return [ctx.op(Op.LP_NORMALIZATION, [x], axis=normalize_axis(int(attrs.get("axis", -1)), x.type.rank), p=p)]


@onnx_op("MeanVarianceNormalization")
def _mvn(ctx, node, inputs, attrs):
    x = inputs[0]
    _float(node, x)
    axes = normalize_axes(attrs.get("axes", (0, 2, 3)), x.type.rank)
    return [ctx.op(Op.MEAN_VARIANCE_NORMALIZATION, [x], axes=axes)]


@onnx_op("Hardmax")
def _hardmax(ctx, node, inputs, attrs):
    if inputs[0].dtype is DType.BOOL:
        raise UnsupportedHere("Hardmax of bool is not supported")
    return _softmax_like(ctx, node, inputs, attrs, Op.HARDMAX)
