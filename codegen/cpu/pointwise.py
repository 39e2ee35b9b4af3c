"""Elementwise ops as numpy expressions over whole tensors (epilogues and prologues too).

Float math stays in the tensor's type (float32), as the Triton kernels compute; numpy keeps
float32 for float32 arrays and Python scalars. Ops whose numpy function is a ufunc return
``ufunc(...)`` so the renderer can write them in place (``out=``).
"""

from __future__ import annotations

from cortado.ir import Op

from .render import Expr, cpu_op, ufunc

_UNARY = {
    Op.ABS: "np.abs", Op.NEG: "np.negative", Op.EXP: "np.exp", Op.LOG: "np.log", Op.SQRT: "np.sqrt",
    Op.RECIPROCAL: "np.reciprocal", Op.FLOOR: "np.floor", Op.CEIL: "np.ceil", Op.ROUND: "np.rint",
    Op.SIGN: "np.sign", Op.TANH: "np.tanh", Op.SIN: "np.sin", Op.COS: "np.cos", Op.TAN: "np.tan",
    Op.ASIN: "np.arcsin", Op.ACOS: "np.arccos", Op.ATAN: "np.arctan", Op.SINH: "np.sinh", Op.COSH: "np.cosh",
    Op.ASINH: "np.arcsinh", Op.ACOSH: "np.arccosh", Op.ATANH: "np.arctanh", Op.NOT: "np.logical_not",
    Op.BITWISE_NOT: "np.invert", Op.IS_NAN: "np.isnan",
}
_BINARY = {
    Op.ADD: "np.add", Op.SUB: "np.subtract", Op.MUL: "np.multiply", Op.MAX: "np.maximum", Op.MIN: "np.minimum",
    Op.EQUAL: "np.equal", Op.LESS: "np.less", Op.LESS_OR_EQUAL: "np.less_equal", Op.GREATER: "np.greater",
    Op.GREATER_OR_EQUAL: "np.greater_equal", Op.AND: "np.logical_and", Op.OR: "np.logical_or",
    Op.XOR: "np.logical_xor", Op.BITWISE_AND: "np.bitwise_and", Op.BITWISE_OR: "np.bitwise_or",
    Op.BITWISE_XOR: "np.bitwise_xor",
}


@cpu_op(*_UNARY)
def unary(w, node, xs):
    return ufunc(_UNARY[node.op], xs[0])


@cpu_op(*_BINARY)
def binary(w, node, xs):
    return ufunc(_BINARY[node.op], xs[0], xs[1])


@cpu_op(Op.DIV)
def div(w, node, xs):
    x, y = xs
    if node.inputs[0].dtype.is_float:
        return ufunc("np.divide", x, y)
    dt = w.dtype(node.outputs[0].dtype)     # integers truncate toward zero; x / 0 is 0
    return Expr(f"np.where({y} == 0, 0, np.trunc(np.divide({x}, np.where({y} == 0, 1, {y})))).astype({dt})", True)


@cpu_op(Op.MOD)
def mod(w, node, xs):
    x, y = xs
    fn = "np.fmod" if node.attrs.fmod else "np.mod"
    if node.inputs[0].dtype.is_float:
        return ufunc(fn, x, y)
    return Expr(f"{fn}({x}, np.where({y} == 0, 1, {y}))", True)


@cpu_op(Op.POW)
def pow_(w, node, xs):
    x, y = xs
    if node.inputs[0].dtype.is_float and node.inputs[1].dtype != node.inputs[0].dtype:
        y = f"{y}.astype({w.dtype(node.inputs[0].dtype)})"
    return Expr(f"np.power({x}, {y}).astype({w.dtype(node.outputs[0].dtype)}, copy=False)", True)


@cpu_op(Op.BIT_SHIFT)
def bit_shift(w, node, xs):
    return ufunc("np.left_shift" if node.attrs.direction == "LEFT" else "np.right_shift", xs[0], xs[1])


@cpu_op(Op.RELU)
def relu(w, node, xs):
    return ufunc("np.maximum", xs[0], "0")


@cpu_op(Op.IDENTITY, Op.DROPOUT)
def identity(w, node, xs):
    return Expr(xs[0])


@cpu_op(Op.SIGMOID)
def sigmoid(w, node, xs):
    x = xs[0]
    return Expr(f"1 / (1 + np.exp(-{x}))", True)


@cpu_op(Op.SOFTPLUS)
def softplus(w, node, xs):
    x = xs[0]
    return Expr(f"np.maximum({x}, 0) + np.log1p(np.exp(-np.abs({x})))", True)


@cpu_op(Op.SOFTSIGN)
def softsign(w, node, xs):
    return Expr(f"{xs[0]} / (1 + np.abs({xs[0]}))", True)


@cpu_op(Op.HARD_SWISH)
def hard_swish(w, node, xs):
    return Expr(f"{xs[0]} * np.clip({xs[0]} / 6 + 0.5, 0, 1)", True)


@cpu_op(Op.HARD_SIGMOID)
def hard_sigmoid(w, node, xs):
    a = node.attrs
    return Expr(f"np.clip({w.lit(a.alpha)} * {xs[0]} + {w.lit(a.beta)}, 0, 1)", True)


@cpu_op(Op.MISH)
def mish(w, node, xs):
    x = xs[0]
    return Expr(f"{x} * np.tanh(np.maximum({x}, 0) + np.log1p(np.exp(-np.abs({x}))))", True)


@cpu_op(Op.IS_INF)
def is_inf(w, node, xs):
    a = node.attrs
    x = xs[0]
    return Expr(f"(np.isneginf({x}) & {bool(a.detect_negative)}) | (np.isposinf({x}) & {bool(a.detect_positive)})",
                True)


@cpu_op(Op.LEAKY_RELU)
def leaky_relu(w, node, xs):
    x = xs[0]
    return Expr(f"np.where({x} >= 0, {x}, {w.lit(node.attrs.alpha)} * {x})", True)


@cpu_op(Op.ELU)
def elu(w, node, xs):
    x = xs[0]
    return Expr(f"np.where({x} >= 0, {x}, {w.lit(node.attrs.alpha)} * np.expm1(np.minimum({x}, 0)))", True)


@cpu_op(Op.SELU)
def selu(w, node, xs):
    a, x = node.attrs, xs[0]
    return Expr(f"{w.lit(a.gamma)} * np.where({x} > 0, {x}, {w.lit(a.alpha)} * np.expm1(np.minimum({x}, 0)))",
                True)


@cpu_op(Op.CELU)
def celu(w, node, xs):
    a, x = node.attrs, xs[0]
    al = w.lit(a.alpha)
    return Expr(f"np.maximum(0, {x}) + np.minimum(0, {al} * np.expm1(np.minimum({x}, 0) / {al}))", True)


@cpu_op(Op.THRESHOLDED_RELU)
def thresholded_relu(w, node, xs):
    x = xs[0]
    return Expr(f"np.where({x} > {w.lit(node.attrs.alpha)}, {x}, 0).astype({x}.dtype)", True)


@cpu_op(Op.SHRINK)
def shrink(w, node, xs):
    a, x = node.attrs, xs[0]
    lam, b = w.lit(a.lambd), w.lit(a.bias)
    return Expr(f"np.where({x} < -{lam}, {x} + {b}, np.where({x} > {lam}, {x} - {b}, 0)).astype({x}.dtype)", True)


@cpu_op(Op.ERF)
def erf(w, node, xs):
    return Expr(f"{w.use('erf')}({xs[0]})", True)


@cpu_op(Op.GELU)
def gelu(w, node, xs):
    x = xs[0]
    if node.attrs.approximate == "tanh":
        return Expr(f"0.5 * {x} * (1 + np.tanh(0.7978845608028654 * ({x} + 0.044715 * {x} ** 3)))", True)
    return Expr(f"0.5 * {x} * (1 + {w.use('erf')}({x} * 0.7071067811865476))", True)


@cpu_op(Op.CAST)
def cast(w, node, xs):
    return Expr(f"{xs[0]}.astype({w.dtype(node.attrs.to)})", True)


@cpu_op(Op.PRELU)
def prelu(w, node, xs):
    x, s = xs
    return Expr(f"np.where({x} >= 0, {x}, {x} * {s})", True)


@cpu_op(Op.CLIP)
def clip(w, node, xs):
    x, lo, hi = (list(xs) + [None, None])[:3]
    if lo is not None and hi is not None:        # one pass: ReLU6 and friends
        return Expr(f"np.clip({x}, {lo}.reshape(()), {hi}.reshape(()))", True, "np.clip",
                    f"{x}, {lo}.reshape(()), {hi}.reshape(())", elementwise=True)
    if lo is not None:
        return ufunc("np.maximum", x, f"{lo}.reshape(())")
    if hi is not None:
        return ufunc("np.minimum", x, f"{hi}.reshape(())")
    return Expr(f"{x}.copy()", True)


@cpu_op(Op.WHERE)
def where(w, node, xs):
    return Expr(f"np.where({xs[0]}, {xs[1]}, {xs[2]})", True)


@cpu_op(Op.BATCH_NORMALIZATION)
def batch_norm(w, node, xs):
    x, scale, b, mean, var = xs
    rank = len(node.inputs[0].shape)
    ch = "(1, -1" + ", 1" * (rank - 2) + ")"
    eps = w.lit(float(node.attrs.epsilon))
    return Expr(f"({x} - {mean}.reshape{ch}) * ({scale} / np.sqrt({var} + {x}.dtype.type({eps}))).reshape{ch} "
                f"+ {b}.reshape{ch}", True)


@cpu_op(Op.CONSTANT_OF_SHAPE)
def constant_of_shape(w, node, xs):
    a = node.attrs
    return Expr(f"np.full({w.shape(a.shape)}, {w.lit(a.value)}, dtype={w.dtype(a.dtype)})", True)
