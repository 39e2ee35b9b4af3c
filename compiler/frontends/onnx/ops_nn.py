"""Importers for ONNX neural-network ops: Conv, pooling, LRN, Gemm, MatMul, Softmax."""

from __future__ import annotations

from ...ir import Op
from ...ir.dims import prod
from ...ops.shapes import auto_pads
from .context import UnsupportedHere
from .registry import onnx_op


def _window_attrs(attrs: dict, x, kernel_shape, *, what: str) -> dict:
    """Canonical kernel/strides/pads/dilations with auto_pad resolved."""
    sp = x.type.rank - 2
    if sp < 1:
        raise UnsupportedHere(f"{what} needs an input of rank >= 3, got {x.type}")
    kernel = tuple(int(k) for k in kernel_shape)
    if len(kernel) != sp:
        raise UnsupportedHere(f"kernel_shape {kernel} does not match {sp} spatial axes")
    strides = tuple(attrs.get("strides") or (1,) * sp)
    dilations = tuple(attrs.get("dilations") or (1,) * sp)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("", "NOTSET"):
        pads = tuple(attrs.get("pads") or (0,) * (2 * sp))
    elif auto in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        pads = auto_pads(auto, x.shape[2:], kernel, strides, dilations)
    else:
        raise UnsupportedHere(f"auto_pad={auto!r} is not an ONNX value")
    if len(strides) != sp or len(dilations) != sp or len(pads) != 2 * sp:
        raise UnsupportedHere(f"strides/dilations/pads lengths do not match {sp} spatial axes")
    return {"kernel_shape": kernel, "strides": strides, "pads": pads, "dilations": dilations}


@onnx_op("Conv")
def _conv(ctx, node, inputs, attrs):
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    kernel = attrs.get("kernel_shape") or tuple(w.shape[2:])
    a = _window_attrs(attrs, x, kernel, what="Conv")
    return [ctx.op(Op.CONV, [x, w, b], group=int(attrs.get("group", 1)), **a)]


def _pool_common(ctx, node, inputs, attrs, op):
    x = inputs[0]
    if "kernel_shape" not in attrs:
        raise UnsupportedHere("kernel_shape is required")
    a = _window_attrs(attrs, x, attrs["kernel_shape"], what=node.op_type)
    if attrs.get("storage_order", 0) and len(node.output) > 1 and node.output[1]:
        raise UnsupportedHere("storage_order=1 indices are not supported")
    if len(node.output) > 1 and node.output[1]:
        raise UnsupportedHere("the Indices output of MaxPool is not supported")
    extra = {}
    if op is Op.AVERAGE_POOL:
        extra["count_include_pad"] = int(attrs.get("count_include_pad", 0))
    if op is Op.LP_POOL:
        extra["p"] = int(attrs.get("p", 2))
    return [ctx.op(op, [x], ceil_mode=int(attrs.get("ceil_mode", 0)), **a, **extra)]


@onnx_op("MaxPool")
def _maxpool(ctx, node, inputs, attrs):
    return _pool_common(ctx, node, inputs, attrs, Op.MAX_POOL)


@onnx_op("AveragePool")
def _avgpool(ctx, node, inputs, attrs):
    return _pool_common(ctx, node, inputs, attrs, Op.AVERAGE_POOL)


@onnx_op("LpPool")
def _lppool(ctx, node, inputs, attrs):
    return _pool_common(ctx, node, inputs, attrs, Op.LP_POOL)


@onnx_op("GlobalAveragePool")
def _gap(ctx, node, inputs, attrs):
    return [ctx.op(Op.GLOBAL_AVERAGE_POOL, [inputs[0]])]


@onnx_op("GlobalMaxPool")
def _gmp(ctx, node, inputs, attrs):
    return [ctx.op(Op.GLOBAL_MAX_POOL, [inputs[0]])]


@onnx_op("LRN")
def _lrn(ctx, node, inputs, attrs):
    if "size" not in attrs:
        raise UnsupportedHere("size is required")
    return [ctx.op(Op.LRN, [inputs[0]], size=int(attrs["size"]), alpha=float(attrs.get("alpha", 1e-4)),
                   beta=float(attrs.get("beta", 0.75)), bias=float(attrs.get("bias", 1.0)))]


@onnx_op("Gemm")
def _gemm(ctx, node, inputs, attrs):
    a, b = inputs[0], inputs[1]
    c = inputs[2] if len(inputs) > 2 else None
    return [ctx.op(Op.GEMM, [a, b, c], alpha=float(attrs.get("alpha", 1.0)), beta=float(attrs.get("beta", 1.0)),
                   transA=int(attrs.get("transA", 0)), transB=int(attrs.get("transB", 0)))]


@onnx_op("MatMul")
def _matmul(ctx, node, inputs, attrs):
    """1-D operands are made 2-D here (numpy's promotion, then the added axis dropped), so
    the GEMM template only sees matrices."""
    a, b = inputs[0], inputs[1]
    if a.type.rank == 0 or b.type.rank == 0:
        raise UnsupportedHere("MatMul of a scalar is not defined")
    if a.type.rank > 1 and b.type.rank > 1:
        return [ctx.op(Op.MATMUL, [a, b])]
    a2 = ctx.op(Op.RESHAPE, [a], shape=(1, a.shape[0])) if a.type.rank == 1 else a
    b2 = ctx.op(Op.RESHAPE, [b], shape=(b.shape[0], 1)) if b.type.rank == 1 else b
    y = ctx.op(Op.MATMUL, [a2, b2])
    shape = list(y.shape)
    if b.type.rank == 1:
        shape.pop(-1)
    if a.type.rank == 1:
        shape.pop(-1 if b.type.rank == 1 else -2)
    return [ctx.op(Op.RESHAPE, [y], shape=tuple(shape))]


def _softmax_like(ctx, node, inputs, attrs, op):
    x = inputs[0]
    rank = x.type.rank
    default = -1 if ctx.opset >= 13 else 1
    axis = int(attrs.get("axis", default))
    if not -rank <= axis < max(rank, 1):
        raise UnsupportedHere(f"axis {axis} out of range for rank {rank}")
    axis %= max(rank, 1)
    if ctx.opset >= 13 or axis == rank - 1:
        return [ctx.op(op, [x], axis=axis)]
    # opsets < 13: the input is flattened to 2-D at ``axis`` and normalized over the second dim
    outer, inner = prod(x.shape[:axis]), prod(x.shape[axis:])
    flat = ctx.op(Op.RESHAPE, [x], shape=(outer, inner))
    y = ctx.op(op, [flat], axis=1)
    return [ctx.op(Op.RESHAPE, [y], shape=tuple(x.shape))]


@onnx_op("Softmax")
def _softmax(ctx, node, inputs, attrs):
    return _softmax_like(ctx, node, inputs, attrs, Op.SOFTMAX)


@onnx_op("LogSoftmax")
def _log_softmax(ctx, node, inputs, attrs):
    return _softmax_like(ctx, node, inputs, attrs, Op.LOG_SOFTMAX)


@onnx_op("ConvTranspose")
def _conv_transpose(ctx, node, inputs, attrs):
    """Canonical pads and output_padding: ``output_shape`` and ``auto_pad`` are resolved here
    (a negative end padding becomes output_padding, as the ONNX formula allows)."""
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    sp = x.type.rank - 2
    if sp < 1:
        raise UnsupportedHere(f"ConvTranspose needs an input of rank >= 3, got {x.type}")
    kernel = tuple(int(k) for k in (attrs.get("kernel_shape") or w.shape[2:]))
    strides = tuple(attrs.get("strides") or (1,) * sp)
    dil = tuple(attrs.get("dilations") or (1,) * sp)
    out_pad = list(attrs.get("output_padding") or (0,) * sp)
    auto = attrs.get("auto_pad", "NOTSET")
    if len(kernel) != sp or len(strides) != sp or len(dil) != sp or len(out_pad) != sp:
        raise UnsupportedHere("kernel_shape/strides/dilations/output_padding do not match the spatial rank")
    sizes = x.shape[2:]
    target = attrs.get("output_shape")
    if target is None and auto in ("SAME_UPPER", "SAME_LOWER"):
        target = [s * st for s, st in zip(sizes, strides)]
    if target is not None:
        target = list(target)[-sp:]
        if any(not isinstance(s, int) for s in sizes):
            raise UnsupportedHere("output_shape / auto_pad need static spatial sizes")
        begins, ends = [], []
        for i in range(sp):
            total = strides[i] * (sizes[i] - 1) + out_pad[i] + (kernel[i] - 1) * dil[i] + 1 - int(target[i])
            if auto == "SAME_UPPER":
                begins.append(total // 2)
                ends.append(total - total // 2)
            else:
                begins.append(total - total // 2)
                ends.append(total // 2)
        for i in range(sp):
            if ends[i] < 0:
                out_pad[i] -= ends[i]
                ends[i] = 0
        if min(begins) < 0:
            raise UnsupportedHere(f"output_shape {target} needs negative leading padding")
        pads = tuple(begins + ends)
    elif auto == "VALID":
        pads = (0,) * (2 * sp)
    else:
        pads = tuple(attrs.get("pads") or (0,) * (2 * sp))
    return [ctx.op(Op.CONV_TRANSPOSE, [x, w, b], kernel_shape=kernel, strides=strides, pads=pads, dilations=dil,
                   group=int(attrs.get("group", 1)), output_padding=tuple(out_pad))]
