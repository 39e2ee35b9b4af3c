"""Elementwise operators: one output element from the same-index (broadcast) input elements.

Most are defined from a table (name, numpy reference, attributes); each becomes a registered
op class exactly like a hand-written one. The reference computes in the input's own dtype, as
the generated kernels do after upcasting half types to float32.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from ..ir import DType, Op, TensorType
from .registry import Category, NoAttrs, register_op
from .shapes import broadcast_shapes, same_dtype
from cortado.runtime.errors import ShapeError

def _quiet():
    return np.errstate(all="ignore")


def _np_erf(x):
    v = np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64))
    return v.astype(x.dtype)


def _sigmoid(x):
    with _quiet():
        return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(x.dtype)


def _softplus(x):
    with _quiet():
        x64 = x.astype(np.float64)
        return (np.maximum(x64, 0) + np.log1p(np.exp(-np.abs(x64)))).astype(x.dtype)


def _require_float(op: str, t: TensorType):
    if not t.dtype.is_float:
        raise ShapeError(f"{op} needs a floating-point input, got {t.dtype}")


def _define(op: Op, reference: Callable, *, attrs: type = NoAttrs, arity: int = 1, floats: bool = False,
            result: DType | None = None, inputs: tuple[str, ...] | None = None, doc: str = ""):
    """Register an elementwise op from its reference; output shape is the broadcast shape."""
    names = inputs or (("X",) if arity == 1 else ("A", "B") if arity == 2 else ("A", "B", "C"))

    def infer(a, *types):
        present = [t for t in types if t is not None]
        dtype = same_dtype(op.value, *present)
        if floats:
            _require_float(op.value, present[0])
        return [TensorType(broadcast_shapes(*(t.shape for t in present)), result or dtype)]

    def ref(a, *arrays):
        with _quiet():
            return reference(a, *arrays)

    cls = type(op.value, (), {"Attrs": attrs, "infer": staticmethod(infer), "reference": staticmethod(ref),
                              "__doc__": doc or f"Elementwise {op.value}."})
    register_op(op, Category.ELEMENTWISE, inputs=names)(cls)


def _attrs(name: str, **fields) -> type:
    return dataclasses.make_dataclass(name, [(k, type(v), dataclasses.field(default=v)) for k, v in fields.items()],
                                      frozen=True)


def _same(fn):
    """Wrap a float-computing lambda so the result keeps the input dtype."""
    return lambda a, x: np.asarray(fn(a, x)).astype(x.dtype)


# --- unary math ---------------------------------------------------------------------------
for _op, _fn, _floats in [
    (Op.ABS, lambda a, x: np.abs(x), False),
    (Op.NEG, lambda a, x: np.negative(x), False),
    (Op.EXP, lambda a, x: np.exp(x), True),
    (Op.LOG, lambda a, x: np.log(x), True),
    (Op.SQRT, lambda a, x: np.sqrt(x), True),
    (Op.RECIPROCAL, lambda a, x: np.reciprocal(x), True),
    (Op.FLOOR, lambda a, x: np.floor(x), True),
    (Op.CEIL, lambda a, x: np.ceil(x), True),
    (Op.ROUND, lambda a, x: np.round(x), True),
    (Op.SIGN, lambda a, x: np.sign(x), False),
    (Op.RELU, lambda a, x: np.maximum(x, x.dtype.type(0)), False),
    (Op.SIGMOID, lambda a, x: _sigmoid(x), True),
    (Op.TANH, lambda a, x: np.tanh(x), True),
    (Op.ERF, lambda a, x: _np_erf(x), True),
    (Op.SIN, lambda a, x: np.sin(x), True),
    (Op.COS, lambda a, x: np.cos(x), True),
    (Op.TAN, lambda a, x: np.tan(x), True),
    (Op.ASIN, lambda a, x: np.arcsin(x), True),
    (Op.ACOS, lambda a, x: np.arccos(x), True),
    (Op.ATAN, lambda a, x: np.arctan(x), True),
    (Op.SINH, lambda a, x: np.sinh(x), True),
    (Op.COSH, lambda a, x: np.cosh(x), True),
    (Op.ASINH, lambda a, x: np.arcsinh(x), True),
    (Op.ACOSH, lambda a, x: np.arccosh(x), True),
    (Op.ATANH, lambda a, x: np.arctanh(x), True),
    (Op.SOFTPLUS, lambda a, x: _softplus(x), True),
    (Op.SOFTSIGN, lambda a, x: x / (1 + np.abs(x)), True),
    (Op.HARD_SWISH, lambda a, x: x * np.clip(x / 6 + 0.5, 0, 1), True),
    (Op.MISH, _same(lambda a, x: x.astype(np.float64) * np.tanh(_softplus(x.astype(np.float64)))), True),
    (Op.IDENTITY, lambda a, x: x.copy(), False),
    (Op.DROPOUT, lambda a, x: x.copy(), False),
    (Op.BITWISE_NOT, lambda a, x: np.invert(x), False),
]:
    _define(_op, _fn, floats=_floats)

_define(Op.NOT, lambda a, x: np.logical_not(x), result=DType.BOOL)
_define(Op.IS_NAN, lambda a, x: np.isnan(x), floats=True, result=DType.BOOL)


@dataclasses.dataclass(frozen=True)
class IsInfAttrs:
    detect_negative: int = 1
    detect_positive: int = 1


_define(Op.IS_INF, lambda a, x: (np.isneginf(x) & bool(a.detect_negative)) | (np.isposinf(x) & bool(a.detect_positive)),
        attrs=IsInfAttrs, floats=True, result=DType.BOOL)

# --- parameterized activations ------------------------------------------------------------
_define(Op.LEAKY_RELU, _same(lambda a, x: np.where(x >= 0, x, a.alpha * x)), attrs=_attrs("LeakyReluAttrs", alpha=0.01),
        floats=True)
_define(Op.ELU, _same(lambda a, x: np.where(x >= 0, x, a.alpha * (np.exp(x.astype(np.float64)) - 1))),
        attrs=_attrs("EluAttrs", alpha=1.0), floats=True)
_define(Op.SELU, _same(lambda a, x: a.gamma * np.where(x > 0, x, a.alpha * (np.exp(x.astype(np.float64)) - 1))),
        attrs=_attrs("SeluAttrs", alpha=1.67326319217681884765625, gamma=1.05070102214813232421875), floats=True)
_define(Op.CELU, _same(lambda a, x: np.maximum(0, x) + np.minimum(0, a.alpha * (np.exp(x.astype(np.float64) / a.alpha) - 1))),
        attrs=_attrs("CeluAttrs", alpha=1.0), floats=True)
_define(Op.HARD_SIGMOID, _same(lambda a, x: np.clip(a.alpha * x + a.beta, 0, 1)),
        attrs=_attrs("HardSigmoidAttrs", alpha=0.2, beta=0.5), floats=True)
_define(Op.THRESHOLDED_RELU, _same(lambda a, x: np.where(x > a.alpha, x, 0)),
        attrs=_attrs("ThresholdedReluAttrs", alpha=1.0), floats=True)
_define(Op.SHRINK, _same(lambda a, x: np.where(x < -a.lambd, x + a.bias, np.where(x > a.lambd, x - a.bias, 0))),
        attrs=_attrs("ShrinkAttrs", bias=0.0, lambd=0.5))


def _gelu(a, x):
    x64 = x.astype(np.float64)
    if a.approximate == "tanh":
        y = 0.5 * x64 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x64 + 0.044715 * x64 ** 3)))
    else:
        y = 0.5 * x64 * (1 + _np_erf(x64 / math.sqrt(2)))
    return y.astype(x.dtype)


_define(Op.GELU, _gelu, attrs=_attrs("GeluAttrs", approximate="none"), floats=True)


@dataclasses.dataclass(frozen=True)
class CastAttrs:
    to: DType = DType.FLOAT32


@register_op(Op.CAST, Category.ELEMENTWISE, inputs=("X",))
class Cast:
    """Convert the element type; float to int truncates toward zero, NaN to bool is true."""

    Attrs = CastAttrs

    def infer(a, x):
        return [TensorType(x.shape, a.to)]

    def reference(a, x):
        with _quiet():
            return x.astype(DType(a.to).numpy)


@register_op(Op.BIT_CAST, Category.ELEMENTWISE, inputs=("X",))
class BitCast:
    """Reinterpret each element's bits as another type of the same size."""

    Attrs = CastAttrs

    def infer(a, x):
        to = DType(a.to)
        if to.itemsize != x.dtype.itemsize or DType.BOOL in (to, x.dtype) and to != x.dtype \
                and {to, x.dtype} != {DType.BOOL, DType.UINT8} and {to, x.dtype} != {DType.BOOL, DType.INT8}:
            raise ShapeError(f"BitCast from {x.dtype} to {to} changes the element size")
        return [TensorType(x.shape, to)]

    def reference(a, x):
        return x.view(DType(a.to).numpy).copy()


# --- binary -------------------------------------------------------------------------------
def _int_div(a, x, y):
    if np.issubdtype(x.dtype, np.integer):
        safe = np.where(y == 0, 1, y)
        q = np.trunc(np.divide(x, safe)).astype(x.dtype)
        return np.where(y == 0, 0, q).astype(x.dtype)
    return np.divide(x, y)


def _mod(a, x, y):
    """fmod=1: C fmod (sign of the dividend); fmod=0: Python/numpy mod (sign of the divisor),
    for floats too, as onnx's own cases expect."""
    if a.fmod:
        return np.fmod(x, y) if np.issubdtype(x.dtype, np.floating) else np.fmod(x, np.where(y == 0, 1, y))
    if np.issubdtype(x.dtype, np.floating):
        return np.mod(x, y)
    return np.mod(x, np.where(y == 0, 1, y))


def _pow(a, x, y):
    return np.power(x, y.astype(x.dtype) if np.issubdtype(x.dtype, np.floating) else y).astype(x.dtype)


for _op, _fn in [
    (Op.ADD, lambda a, x, y: x + y),
    (Op.SUB, lambda a, x, y: x - y),
    (Op.MUL, lambda a, x, y: x * y),
    (Op.DIV, _int_div),
    (Op.MAX, lambda a, x, y: np.maximum(x, y)),
    (Op.MIN, lambda a, x, y: np.minimum(x, y)),
    (Op.BITWISE_AND, lambda a, x, y: x & y),
    (Op.BITWISE_OR, lambda a, x, y: x | y),
    (Op.BITWISE_XOR, lambda a, x, y: x ^ y),
]:
    _define(_op, _fn, arity=2)

_define(Op.MOD, _mod, arity=2, attrs=_attrs("ModAttrs", fmod=0))
_define(Op.BIT_SHIFT, lambda a, x, y: (x << y) if a.direction == "LEFT" else (x >> y), arity=2,
        attrs=_attrs("BitShiftAttrs", direction="LEFT"))

for _op, _fn in [
    (Op.EQUAL, np.equal), (Op.LESS, np.less), (Op.LESS_OR_EQUAL, np.less_equal),
    (Op.GREATER, np.greater), (Op.GREATER_OR_EQUAL, np.greater_equal),
]:
    _define(_op, (lambda f: lambda a, x, y: f(x, y))(_fn), arity=2, result=DType.BOOL)

for _op, _fn in [(Op.AND, np.logical_and), (Op.OR, np.logical_or), (Op.XOR, np.logical_xor)]:
    _define(_op, (lambda f: lambda a, x, y: f(x, y))(_fn), arity=2, result=DType.BOOL)


@register_op(Op.POW, Category.ELEMENTWISE, inputs=("X", "Y"))
class Pow:
    """x ** y; the exponent may have another numeric type, the result has the base's."""

    def infer(a, x, y):
        return [TensorType(broadcast_shapes(x.shape, y.shape), x.dtype)]

    def reference(a, x, y):
        with _quiet():
            return _pow(a, x, y)


@register_op(Op.PRELU, Category.ELEMENTWISE, inputs=("X", "slope"))
class PRelu:
    """x if x >= 0 else slope * x; slope broadcasts to x (unidirectionally)."""

    def infer(a, x, slope):
        same_dtype("PRelu", x, slope)
        out = broadcast_shapes(x.shape, slope.shape)
        if out != tuple(x.shape):
            raise ShapeError(f"PRelu slope {slope.shape} must broadcast to the input shape {x.shape}")
        return [x]

    def reference(a, x, slope):
        return np.where(x >= 0, x, x * slope).astype(x.dtype)


@register_op(Op.CLIP, Category.ELEMENTWISE, inputs=("X", "min?", "max?"))
class Clip:
    """Clamp to [min, max]; a missing bound is no bound. Bounds are scalar tensors."""

    def infer(a, x, lo=None, hi=None):
        for b in (lo, hi):
            if b is not None and b.numel != 1:
                raise ShapeError(f"Clip bounds must be scalars, got shape {b.shape}")
        same_dtype("Clip", x, lo, hi)
        return [x]

    def reference(a, x, lo=None, hi=None):
        y = x
        if lo is not None:
            y = np.maximum(y, lo.reshape(()))
        if hi is not None:
            y = np.minimum(y, hi.reshape(()))
        return y.astype(x.dtype)


@register_op(Op.WHERE, Category.ELEMENTWISE, inputs=("condition", "X", "Y"))
class Where:
    """condition ? X : Y with three-way broadcasting."""

    def infer(a, c, x, y):
        if c.dtype is not DType.BOOL:
            raise ShapeError(f"Where condition must be bool, got {c.dtype}")
        dtype = same_dtype("Where", x, y)
        return [TensorType(broadcast_shapes(c.shape, x.shape, y.shape), dtype)]

    def reference(a, c, x, y):
        return np.where(c, x, y)


@dataclasses.dataclass(frozen=True)
class BatchNormAttrs:
    epsilon: float = 1e-5


@register_op(Op.BATCH_NORMALIZATION, Category.ELEMENTWISE, inputs=("X", "scale", "B", "mean", "var"))
class BatchNormalization:
    """Inference batch norm: (x - mean) / sqrt(var + eps) * scale + B, per channel (axis 1).

    The four parameters share one float type; it may be float32 under a float16/bfloat16
    input (ONNX opset 15 allows it; mixed precision keeps the per-channel statistics in
    float32). Training-mode outputs (running mean/var) are not part of the IR; frontends
    refuse them."""

    Attrs = BatchNormAttrs

    def infer(a, x, scale, b, mean, var):
        if x.rank < 2:
            raise ShapeError(f"BatchNormalization needs rank >= 2, got {x.rank}")
        for name, t in (("scale", scale), ("B", b), ("mean", mean), ("var", var)):
            if t.rank != 1 or t.shape[0] != x.shape[1]:
                raise ShapeError(f"BatchNormalization {name} must have shape ({x.shape[1]},), got {t.shape}")
        params = same_dtype("BatchNormalization parameters", scale, b, mean, var)
        if params != x.dtype and not (params is DType.FLOAT32 and x.dtype in (DType.FLOAT16, DType.BFLOAT16)):
            raise ShapeError(f"BatchNormalization parameters are {params} but the input is {x.dtype}; "
                             "they must match it, or be float32 under a float16/bfloat16 input")
        return [x]

    def reference(a, x, scale, b, mean, var):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        r = lambda t: t.reshape(shape)
        y = (x - r(mean)) / np.sqrt(r(var) + np.asarray(a.epsilon, dtype=var.dtype)) * r(scale) + r(b)
        return y.astype(x.dtype)
