"""Importers for ONNX elementwise ops (math, activations, logic, Cast, Clip, BatchNorm)."""

from __future__ import annotations

from ...ir import DType, Op
from ...ops.shapes import decide
from .context import UnsupportedHere
from .registry import onnx_op

# ONNX op -> (IR op, attributes carried over)
_DIRECT = {
    "Abs": (Op.ABS, ()), "Neg": (Op.NEG, ()), "Exp": (Op.EXP, ()), "Log": (Op.LOG, ()), "Sqrt": (Op.SQRT, ()),
    "Reciprocal": (Op.RECIPROCAL, ()), "Floor": (Op.FLOOR, ()), "Ceil": (Op.CEIL, ()), "Round": (Op.ROUND, ()),
    "Sign": (Op.SIGN, ()), "Relu": (Op.RELU, ()), "Sigmoid": (Op.SIGMOID, ()), "Tanh": (Op.TANH, ()),
    "Erf": (Op.ERF, ()), "Sin": (Op.SIN, ()), "Cos": (Op.COS, ()), "Tan": (Op.TAN, ()), "Asin": (Op.ASIN, ()),
    "Acos": (Op.ACOS, ()), "Atan": (Op.ATAN, ()), "Sinh": (Op.SINH, ()), "Cosh": (Op.COSH, ()),
    "Asinh": (Op.ASINH, ()), "Acosh": (Op.ACOSH, ()), "Atanh": (Op.ATANH, ()), "Softplus": (Op.SOFTPLUS, ()),
    "Softsign": (Op.SOFTSIGN, ()), "Not": (Op.NOT, ()), "BitwiseNot": (Op.BITWISE_NOT, ()),
    "IsNaN": (Op.IS_NAN, ()), "IsInf": (Op.IS_INF, ("detect_negative", "detect_positive")),
    "LeakyRelu": (Op.LEAKY_RELU, ("alpha",)), "Elu": (Op.ELU, ("alpha",)), "Selu": (Op.SELU, ("alpha", "gamma")),
    "Celu": (Op.CELU, ("alpha",)), "HardSigmoid": (Op.HARD_SIGMOID, ("alpha", "beta")),
    "HardSwish": (Op.HARD_SWISH, ()), "Mish": (Op.MISH, ()), "Gelu": (Op.GELU, ("approximate",)),
    "ThresholdedRelu": (Op.THRESHOLDED_RELU, ("alpha",)), "Shrink": (Op.SHRINK, ("bias", "lambd")),
    "Identity": (Op.IDENTITY, ()),
    "Add": (Op.ADD, ()), "Sub": (Op.SUB, ()), "Mul": (Op.MUL, ()), "Div": (Op.DIV, ()), "Pow": (Op.POW, ()),
    "Mod": (Op.MOD, ("fmod",)), "Equal": (Op.EQUAL, ()), "Less": (Op.LESS, ()),
    "LessOrEqual": (Op.LESS_OR_EQUAL, ()), "Greater": (Op.GREATER, ()),
    "GreaterOrEqual": (Op.GREATER_OR_EQUAL, ()), "And": (Op.AND, ()), "Or": (Op.OR, ()), "Xor": (Op.XOR, ()),
    "BitwiseAnd": (Op.BITWISE_AND, ()), "BitwiseOr": (Op.BITWISE_OR, ()), "BitwiseXor": (Op.BITWISE_XOR, ()),
    "BitShift": (Op.BIT_SHIFT, ("direction",)), "Where": (Op.WHERE, ()),
}

# attributes old opsets had that no longer change the meaning (legacy broadcasting, consumed_inputs)
_LEGACY = {"consumed_inputs", "broadcast", "axis"}


def _direct(ctx, node, inputs, attrs):
    op, keep = _DIRECT[node.op_type]
    if node.op_type in ("Add", "Sub", "Mul", "Div", "Pow", "And", "Or", "Xor", "Equal", "Less", "Greater") \
            and attrs.get("broadcast") and "axis" in attrs and inputs[1] is not None:
        inputs = [inputs[0], _legacy_broadcast(ctx, inputs[0], inputs[1], attrs["axis"])]
    unknown = set(attrs) - set(keep) - _LEGACY
    if unknown:
        raise UnsupportedHere(f"attribute(s) {', '.join(sorted(unknown))} not supported")
    out = ctx.op(op, inputs, **{k: attrs[k] for k in keep if k in attrs})
    return [_shape_arithmetic(ctx, op, inputs, out)]


_SHAPE_MATH = {Op.ADD: lambda a, b: a + b, Op.SUB: lambda a, b: a - b, Op.MUL: lambda a, b: a * b,
               Op.DIV: lambda a, b: a // b, Op.MAX: None, Op.MIN: None, Op.IDENTITY: None,
               Op.EQUAL: None, Op.LESS: None, Op.LESS_OR_EQUAL: None, Op.GREATER: None,
               Op.GREATER_OR_EQUAL: None, Op.WHERE: None}


def _shape_arithmetic(ctx, op, inputs, out):
    """Keep shape data flowing through integer arithmetic on shapes (``Shape(x)[0] * 4``), and
    through the comparisons and selections exporters build shapes with (``Where(Equal(s, -1),
    1, s)``): each element that holds for every binding of the symbols is decided here
    (``N == -1`` is false, ``max(N, 0)`` is N); one that depends on the binding (``N == 1``)
    leaves the value to run time."""
    if op not in _SHAPE_MATH or out.type.rank > 1 or not (out.dtype.is_int or out.dtype is DType.BOOL):
        return out
    known = [v.const is not None or id(v) in ctx.symdata for v in inputs]
    if not all(known) or not any(id(v) in ctx.symdata for v in inputs):
        return out
    if op is Op.IDENTITY:
        return ctx.static_or_shape(out, ctx.ints(inputs[0], "shape data"))
    lists = [ctx.ints(v, "shape data") for v in inputs]
    n = max(len(a) for a in lists)
    if any(len(a) not in (1, n) for a in lists) or (out.type.rank == 0 and n != 1):
        return out
    lists = [a * (n // len(a)) for a in lists]
    if op is Op.WHERE:
        cond, a, b = lists
        if not all(isinstance(c, int) for c in cond):
            return out
        return ctx.static_or_shape(out, [x if c else y for c, x, y in zip(cond, a, b)])
    a, b = lists[:2]
    f = _SHAPE_MATH[op]
    if f is None:
        picked = [decide(op, x, y) for x, y in zip(a, b)]
        if any(p is None for p in picked):
            return out
        return ctx.static_or_shape(out, picked)
    return ctx.static_or_shape(out, [f(x, y) for x, y in zip(a, b)])


for _name in _DIRECT:
    onnx_op(_name)(_direct)


def _legacy_broadcast(ctx, a, b, axis):
    """Opset < 7 broadcasting of B starting at ``axis`` of A: reshape B to align its dims."""
    axis = axis % a.type.rank
    shape = tuple(b.shape) + (1,) * (a.type.rank - axis - b.type.rank)
    if tuple(shape) == tuple(b.shape):
        return b
    return ctx.op(Op.RESHAPE, [b], shape=shape)


@onnx_op("Sum", "Mean", "Max", "Min")
def _variadic(ctx, node, inputs, attrs):
    op = {"Sum": Op.ADD, "Mean": Op.ADD, "Max": Op.MAX, "Min": Op.MIN}[node.op_type]
    xs = [v for v in inputs if v is not None]
    if not xs:
        raise UnsupportedHere("needs at least one input")
    acc = xs[0]
    for v in xs[1:]:
        step = ctx.op(op, [acc, v], name=f"{node.name}_{node.op_type.lower()}")
        acc = _shape_arithmetic(ctx, op, [acc, v], step)
    if node.op_type == "Mean" and len(xs) > 1:
        acc = ctx.op(Op.DIV, [acc, ctx.const(len(xs), dtype=acc.dtype)])
    elif len(xs) == 1:
        acc = ctx.op(Op.IDENTITY, [acc])
    return [acc]


@onnx_op("Dropout")
def _dropout(ctx, node, inputs, attrs):
    if len(inputs) > 2 and inputs[2] is not None:
        if bool(ctx.scalar(inputs[2], "Dropout's training_mode")):
            raise UnsupportedHere("training_mode=true (training) is not supported")
    if attrs.get("is_test", 1) == 0 and ctx.opset < 7:
        raise UnsupportedHere("is_test=0 (training) is not supported")
    y = ctx.op(Op.DROPOUT, [inputs[0]])
    mask = None
    if len(node.output) > 1 and node.output[1]:
        mask = ctx.op(Op.CONSTANT_OF_SHAPE, [], shape=tuple(y.shape), value=1, dtype=DType.BOOL)
    return [y, mask]


@onnx_op("Cast", "CastLike")
def _cast(ctx, node, inputs, attrs):
    to = ctx.dtype(int(attrs["to"]), "Cast to") if node.op_type == "Cast" else inputs[1].dtype
    src = inputs[0]
    out = ctx.op(Op.CAST, [src], to=to)
    data = ctx.symdata.get(id(src))
    if data is not None and to.is_int:
        ctx.set_symdata(out, data)
    return [out]


@onnx_op("Clip")
def _clip(ctx, node, inputs, attrs):
    x = inputs[0]
    if ctx.opset < 11:
        lo = ctx.const(attrs.get("min", -3.4028234663852886e38), dtype=x.dtype) if "min" in attrs else None
        hi = ctx.const(attrs.get("max", 3.4028234663852886e38), dtype=x.dtype) if "max" in attrs else None
    else:
        lo = inputs[1] if len(inputs) > 1 else None
        hi = inputs[2] if len(inputs) > 2 else None
    return [ctx.op(Op.CLIP, [x, lo, hi])]


@onnx_op("PRelu")
def _prelu(ctx, node, inputs, attrs):
    x, slope = inputs[0], inputs[1]
    r = x.type.rank
    if slope.type.rank == 1 and r > 2 and slope.shape[0] == x.shape[1] and slope.shape[0] != x.shape[-1]:
        # a per-channel slope given as (C,): older exporters rely on channel broadcasting
        slope = ctx.op(Op.RESHAPE, [slope], shape=(slope.shape[0],) + (1,) * (r - 2))
    return [ctx.op(Op.PRELU, [x, slope])]


@onnx_op("BatchNormalization")
def _batchnorm(ctx, node, inputs, attrs):
    if attrs.get("training_mode", 0):
        raise UnsupportedHere("training_mode=1 is not supported (inference only)")
    if ctx.opset < 7 and attrs.get("is_test", 0) == 0 and any(node.output[1:]):
        raise UnsupportedHere("training outputs are not supported")
    if any(o for o in node.output[1:]):
        raise UnsupportedHere("running mean/var outputs (training) are not supported")
    if ctx.opset < 9 and attrs.get("spatial", 1) == 0:
        raise UnsupportedHere("spatial=0 is not supported")
    return [ctx.op(Op.BATCH_NORMALIZATION, inputs[:5], epsilon=attrs.get("epsilon", 1e-5))]


@onnx_op("BitCast")
def _bitcast(ctx, node, inputs, attrs):
    x = inputs[0]
    to = ctx.dtype(int(attrs["to"]), "BitCast to")
    ok = to.itemsize == x.dtype.itemsize and (DType.BOOL not in (to, x.dtype) or to == x.dtype
                                               or {to, x.dtype} <= {DType.BOOL, DType.UINT8, DType.INT8})
    if not ok:
        raise UnsupportedHere(f"BitCast from {x.dtype} to {to} changes the element size")
    return [ctx.op(Op.BIT_CAST, [x], to=to)]
