"""Elementwise Caffe layers: activations, Power/Exp/Log, Eltwise, Softmax, Dropout.

Caffe's parameterized math maps to plain IR ops:

* Power: ``(shift + scale * x) ^ power``; with ``scale * power == 0`` the output is the
  constant ``power == 0 ? 1 : shift ^ power``, exactly as Caffe fills it.
* Exp: ``base ^ (shift + scale * x)`` = ``base^shift * exp(ln(base) * scale * x)``
  (``base = -1`` means e).
* Log: ``log_base(shift + scale * x)`` = ``ln(shift + scale * x) / ln(base)``.
* Eltwise SUM: ``sum_i coeff_i * x_i`` (coefficient 1 and -1 need no multiply).
* Dropout is the identity at inference (Caffe scales during training instead).
"""

from __future__ import annotations

import math

import numpy as np

from ...ir import DType, Op
from .registry import caffe_layer


def _chain(ctx, x, steps, top=None):
    """Apply (op, scalar) steps in order, skipping identities; the last step makes ``top``."""
    steps = [(op, c, name) for op, c, name in steps
             if not ((op is Op.MUL or op is Op.POW) and c == 1.0) and not (op is Op.ADD and c == 0.0)]
    for i, (op, c, name) in enumerate(steps):
        x = ctx.op(op, [x, ctx.scalar(c, name)], top=top if i == len(steps) - 1 else None)
    return x


def _scale_shift(ctx, x, scale: float, shift: float, top=None):
    return _chain(ctx, x, [(Op.MUL, scale, "scale"), (Op.ADD, shift, "shift")], top)


def _unary(op):
    def convert(ctx, layer, inputs):
        return [ctx.op(op, [inputs[0]], top=0)]
    return convert


for _type, _op in (("Sigmoid", Op.SIGMOID), ("TanH", Op.TANH), ("AbsVal", Op.ABS), ("BNLL", Op.SOFTPLUS)):
    caffe_layer(_type)(_unary(_op))


@caffe_layer("ReLU")
def _relu(ctx, layer, inputs):
    slope = layer.param("relu_param").negative_slope
    if slope == 0:
        return [ctx.op(Op.RELU, [inputs[0]], top=0)]
    return [ctx.op(Op.LEAKY_RELU, [inputs[0]], top=0, alpha=slope)]


@caffe_layer("PReLU")
def _prelu(ctx, layer, inputs):
    x = inputs[0]
    if x.type.rank < 2:
        raise ctx.error(f"PReLU needs rank >= 2, got {x.type}")
    shared = layer.param("prelu_param").channel_shared
    c = 1 if shared else x.shape[1]
    slope = ctx.blob(0, (c,), "slope", what="slopes")
    shape = (1,) if shared else (c,) + (1,) * (x.type.rank - 2)
    return [ctx.op(Op.PRELU, [x, ctx.const(slope.reshape(shape), "slope")], top=0)]


@caffe_layer("ELU")
def _elu(ctx, layer, inputs):
    return [ctx.op(Op.ELU, [inputs[0]], top=0, alpha=layer.param("elu_param").alpha)]


@caffe_layer("Threshold")
def _threshold(ctx, layer, inputs):
    t = layer.param("threshold_param").threshold
    above = ctx.op(Op.GREATER, [inputs[0], ctx.scalar(t, "threshold")])
    return [ctx.op(Op.CAST, [above], top=0, to=DType.FLOAT32)]


@caffe_layer("Clip")
def _clip(ctx, layer, inputs):
    p = layer.param("clip_param")
    if not (p.has("min") and p.has("max")):
        raise ctx.error("clip_param needs both min and max")
    return [ctx.op(Op.CLIP, [inputs[0], ctx.scalar(p.min, "min"), ctx.scalar(p.max, "max")], top=0)]


@caffe_layer("Swish")
def _swish(ctx, layer, inputs):
    x = inputs[0]
    beta = layer.param("swish_param").beta
    gate = ctx.op(Op.SIGMOID, [_scale_shift(ctx, x, beta, 0.0)])
    return [ctx.op(Op.MUL, [x, gate], top=0)]


@caffe_layer("Power")
def _power(ctx, layer, inputs):
    p = layer.param("power_param")
    x = inputs[0]
    if p.scale * p.power == 0:
        value = 1.0 if p.power == 0 else float(np.float32(p.shift) ** np.float32(p.power))
        return [ctx.op(Op.CONSTANT_OF_SHAPE, [], top=0, shape=tuple(x.shape), value=value, dtype=DType.FLOAT32)]
    return [_chain(ctx, x, [(Op.MUL, p.scale, "scale"), (Op.ADD, p.shift, "shift"), (Op.POW, p.power, "power")],
                   top=0)]


@caffe_layer("Exp")
def _exp(ctx, layer, inputs):
    p = layer.param("exp_param")
    if p.base != -1 and p.base <= 0:
        raise ctx.error(f"exp_param.base must be positive (or -1 for e), got {p.base}")
    log_base = 1.0 if p.base == -1 else math.log(p.base)
    outer = 1.0 if p.shift == 0 else (math.exp(p.shift) if p.base == -1 else p.base ** p.shift)
    inner = _scale_shift(ctx, inputs[0], log_base * p.scale, 0.0)
    if outer == 1.0:
        return [ctx.op(Op.EXP, [inner], top=0)]
    return [ctx.op(Op.MUL, [ctx.op(Op.EXP, [inner]), ctx.scalar(outer, "outer_scale")], top=0)]


@caffe_layer("Log")
def _log(ctx, layer, inputs):
    p = layer.param("log_param")
    if p.base != -1 and (p.base <= 0 or p.base == 1):
        raise ctx.error(f"log_param.base must be positive and not 1 (or -1 for e), got {p.base}")
    y = ctx.op(Op.LOG, [_scale_shift(ctx, inputs[0], p.scale, p.shift)], top=0 if p.base == -1 else None)
    if p.base == -1:
        return [y]
    return [ctx.op(Op.MUL, [y, ctx.scalar(1.0 / math.log(p.base), "base_scale")], top=0)]


@caffe_layer("Eltwise")
def _eltwise(ctx, layer, inputs):
    p = layer.param("eltwise_param")
    if len(inputs) < 2:
        raise ctx.error("Eltwise needs at least two bottoms")
    for v in inputs[1:]:
        if tuple(v.shape) != tuple(inputs[0].shape):
            raise ctx.error(f"Eltwise bottoms must have one shape, got {inputs[0].type} and {v.type}")
    coeff = list(p.coeff)
    if coeff and p.operation != "SUM":
        raise ctx.error("coeff applies only to the SUM operation")
    if coeff and len(coeff) != len(inputs):
        raise ctx.error(f"{len(coeff)} coefficients for {len(inputs)} bottoms")
    last = len(inputs) - 1
    if p.operation in ("PROD", "MAX"):
        op = Op.MUL if p.operation == "PROD" else Op.MAX
        acc = inputs[0]
        for i, v in enumerate(inputs[1:], start=1):
            acc = ctx.op(op, [acc, v], top=0 if i == last else None)
        return [acc]
    coeff = coeff or [1.0] * len(inputs)
    acc = inputs[0] if coeff[0] == 1.0 else ctx.op(Op.MUL, [inputs[0], ctx.scalar(coeff[0], "coeff0")])
    for i, (v, c) in enumerate(zip(inputs[1:], coeff[1:]), start=1):
        top = 0 if i == last else None
        if c == 1.0:
            acc = ctx.op(Op.ADD, [acc, v], top=top)
        elif c == -1.0:
            acc = ctx.op(Op.SUB, [acc, v], top=top)
        else:
            acc = ctx.op(Op.ADD, [acc, ctx.op(Op.MUL, [v, ctx.scalar(c, f"coeff{i}")])], top=top)
    return [acc]


@caffe_layer("Softmax")
def _softmax(ctx, layer, inputs):
    x = inputs[0]
    axis = ctx.axis(layer.param("softmax_param").axis, x.type.rank)
    return [ctx.op(Op.SOFTMAX, [x], top=0, axis=axis)]


@caffe_layer("Dropout")
def _dropout(ctx, layer, inputs):
    return [inputs[0]]
