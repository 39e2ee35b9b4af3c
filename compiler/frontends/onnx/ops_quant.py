"""Quantization ops, decomposed into elementwise IR on import:

    DequantizeLinear(x, s, zp) = (float(x) - float(zp)) * s
    QuantizeLinear(x, s, zp)   = clip(round_half_even(x / s) + zp, qmin, qmax) as the zp type
    QLinearMatMul              = QuantizeLinear(DequantizeLinear(a) @ DequantizeLinear(b))
    MatMulInteger / ConvInteger: exact integer sums through a float64 MatMul / Conv

Per-axis scales broadcast along ``axis``; blocked scales (``block_size``) must be constants
and are expanded to the full shape. 8- and 16-bit integer types are supported; float8 and
int4 are not element types Cortado has.
"""

from __future__ import annotations

import numpy as np

from ...ir import DType, Op
from ...ops.shapes import normalize_axis
from .context import UnsupportedHere
from .registry import onnx_op

_RANGES = {DType.UINT8: (0, 255), DType.INT8: (-128, 127), DType.UINT16: (0, 65535), DType.INT16: (-32768, 32767)}


def _along(ctx, t, x, axis: int, block: int, what: str):
    """``t`` (scalar, per-axis vector or blocked) shaped to broadcast against ``x``."""
    if t is None or t.type.numel == 1:
        return t if t is None or t.type.rank == 0 else ctx.op(Op.RESHAPE, [t], shape=())
    rank = x.type.rank
    axis = normalize_axis(axis, rank)
    if block:
        if t.const is None:
            ctx.floats(t, what)     # reports the value as needed at compile time
        reps = np.repeat(t.const, block, axis=axis)
        idx = [slice(None)] * rank
        idx[axis] = slice(0, x.shape[axis])
        return ctx.const(np.ascontiguousarray(reps[tuple(idx)]))
    if t.type.rank != 1:
        raise UnsupportedHere(f"{what} of shape {t.shape} is neither a scalar nor a vector along axis {axis}")
    shape = [1] * rank
    shape[axis] = t.shape[0]
    return ctx.op(Op.RESHAPE, [t], shape=tuple(shape))


def dequantize(ctx, x, scale, zp, axis, block, out_dtype):
    if x.dtype not in _RANGES and x.dtype is not DType.INT32:
        raise UnsupportedHere(f"dequantizing {x.dtype} is not supported")
    f32 = DType.FLOAT32
    xf = ctx.op(Op.CAST, [x], to=f32)
    if zp is not None:
        xf = ctx.op(Op.SUB, [xf, ctx.op(Op.CAST, [_along(ctx, zp, x, axis, block, "zero point")], to=f32)])
    s = _along(ctx, scale, x, axis, block, "scale")
    if s.dtype != f32:
        s = ctx.op(Op.CAST, [s], to=f32)
    y = ctx.op(Op.MUL, [xf, s])
    return y if out_dtype == f32 else ctx.op(Op.CAST, [y], to=out_dtype)


def quantize(ctx, x, scale, zp, axis, block, out_dtype):
    if out_dtype not in _RANGES:
        raise UnsupportedHere(f"quantizing to {out_dtype} is not supported")
    s = _along(ctx, scale, x, axis, block, "scale")
    if s.dtype != x.dtype:
        s = ctx.op(Op.CAST, [s], to=x.dtype)
    q = ctx.op(Op.ROUND, [ctx.op(Op.DIV, [x, s])])
    if q.dtype != DType.FLOAT32:
        q = ctx.op(Op.CAST, [q], to=DType.FLOAT32)
    if zp is not None:
        q = ctx.op(Op.ADD, [q, ctx.op(Op.CAST, [_along(ctx, zp, x, axis, block, "zero point")], to=DType.FLOAT32)])
    lo, hi = _RANGES[out_dtype]
    q = ctx.op(Op.CLIP, [q, ctx.const(np.float32(lo)), ctx.const(np.float32(hi))])
    return ctx.op(Op.CAST, [q], to=out_dtype)


def _opt(inputs, i):
    return inputs[i] if len(inputs) > i else None


@onnx_op("DequantizeLinear")
def _dequantize(ctx, node, inputs, attrs):
    x, scale, zp = inputs[0], inputs[1], _opt(inputs, 2)
    axis = int(attrs.get("axis", 1))
    out = ctx.dtype(int(attrs["output_dtype"]), "output_dtype") if attrs.get("output_dtype") else scale.dtype
    return [dequantize(ctx, x, scale, zp, axis, int(attrs.get("block_size", 0)), out)]


@onnx_op("QuantizeLinear")
def _quantize(ctx, node, inputs, attrs):
    x, scale, zp = inputs[0], inputs[1], _opt(inputs, 2)
    if attrs.get("precision"):
        raise UnsupportedHere("the precision attribute is not supported")
    axis = int(attrs.get("axis", 1))
    if zp is not None:
        out = zp.dtype
    elif attrs.get("output_dtype"):
        out = ctx.dtype(int(attrs["output_dtype"]), "output_dtype")
    else:
        out = DType.UINT8
    return [quantize(ctx, x, scale, zp, axis, int(attrs.get("block_size", 0)), out)]


@onnx_op("QLinearMatMul")
def _qlinear_matmul(ctx, node, inputs, attrs):
    a, a_s, a_zp, b, b_s, b_zp, y_s, y_zp = inputs[:8]
    fa = dequantize(ctx, a, a_s, a_zp, max(a.type.rank - 2, 0), 0, DType.FLOAT32)
    fb = dequantize(ctx, b, b_s, b_zp, b.type.rank - 1, 0, DType.FLOAT32)
    y = ctx.op(Op.MATMUL, [fa, fb])
    return [quantize(ctx, y, y_s, y_zp, y.type.rank - 1, 0, y_zp.dtype)]


def _centered64(ctx, x, zp, axis):
    xf = ctx.op(Op.CAST, [x], to=DType.FLOAT64)
    if zp is None:
        return xf
    z = _along(ctx, zp, x, axis, 0, "zero point")
    return ctx.op(Op.SUB, [xf, ctx.op(Op.CAST, [z], to=DType.FLOAT64)])


@onnx_op("MatMulInteger")
def _matmul_integer(ctx, node, inputs, attrs):
    a, b, a_zp, b_zp = inputs[0], inputs[1], _opt(inputs, 2), _opt(inputs, 3)
    if a.type.rank < 2 or b.type.rank < 2:
        raise UnsupportedHere("MatMulInteger needs operands of rank >= 2")
    y = ctx.op(Op.MATMUL, [_centered64(ctx, a, a_zp, a.type.rank - 2), _centered64(ctx, b, b_zp, b.type.rank - 1)])
    return [ctx.op(Op.CAST, [y], to=DType.INT32)]


@onnx_op("ConvInteger")
def _conv_integer(ctx, node, inputs, attrs):
    from .ops_nn import _window_attrs

    x, w, x_zp, w_zp = inputs[0], inputs[1], _opt(inputs, 2), _opt(inputs, 3)
    kernel = attrs.get("kernel_shape") or tuple(w.shape[2:])
    a = _window_attrs(attrs, x, kernel, what="ConvInteger")
    xf = _centered64(ctx, x, x_zp, 1)
    wf = _centered64(ctx, w, w_zp, 0)
    y = ctx.op(Op.CONV, [xf, wf, None], group=int(attrs.get("group", 1)), **a)
    return [ctx.op(Op.CAST, [y], to=DType.INT32)]


@onnx_op("QLinearConv")
def _qlinear_conv(ctx, node, inputs, attrs):
    """Conv of the dequantized input and weight (bias: int32 at scale x_scale * w_scale),
    requantized to y's scale and zero point."""
    from .ops_nn import _window_attrs

    x, x_s, x_zp, w, w_s, w_zp, y_s, y_zp = inputs[:8]
    bias = _opt(inputs, 8)
    fx = dequantize(ctx, x, x_s, x_zp, 1, 0, DType.FLOAT32)
    fw = dequantize(ctx, w, w_s, w_zp, 0, 0, DType.FLOAT32)
    fb = None
    if bias is not None:
        ws = w_s if w_s.type.numel == 1 else ctx.op(Op.RESHAPE, [w_s], shape=(w.shape[0],))
        fb = ctx.op(Op.MUL, [ctx.op(Op.CAST, [bias], to=DType.FLOAT32), ctx.op(Op.MUL, [x_s, ws])])
        if fb.type.rank == 0:
            fb = ctx.op(Op.EXPAND, [fb], shape=(w.shape[0],))
    kernel = attrs.get("kernel_shape") or tuple(w.shape[2:])
    a = _window_attrs(attrs, x, kernel, what="QLinearConv")
    y = ctx.op(Op.CONV, [fx, fw, fb], group=int(attrs.get("group", 1)), **a)
    return [quantize(ctx, y, y_s, y_zp, 1, 0, y_zp.dtype)]
