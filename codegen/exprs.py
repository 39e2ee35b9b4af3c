"""Elementwise ops as Triton expressions: the op-to-expression table.

Each entry takes the argument expressions (already in the *compute* dtype: float32 for every
float type but float64, the integer type itself, int1 for bool) and returns one expression
in the compute dtype of the result. Functions that ``triton.language`` lacks on every target
(tanh, atan, pow with negative bases, ...) come from ``prelude``: small ``@triton.jit``
helpers emitted into the module, so the same source runs on GPUs and in the interpreter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from cortado.ir import DType, Op

from .lowering import LoweringKind, register, section


def compute_dtype(dtype: DType) -> str:
    """The ``tl`` type values of ``dtype`` are held in inside a kernel."""
    if dtype in (DType.FLOAT16, DType.BFLOAT16, DType.FLOAT32):
        return "tl.float32"
    return dtype.triton_lang


def literal(value, dtype: DType) -> str:
    """A scalar constant as kernel source text."""
    if dtype is DType.BOOL:
        return "True" if bool(value) else "False"
    if dtype.is_float:
        v = float(value)
        if math.isnan(v):
            return 'float("nan")'
        if math.isinf(v):
            return 'float("inf")' if v > 0 else '-float("inf")'
        return repr(v)
    return str(int(value))


@dataclass
class Call:
    """What a lowering sees: argument expressions, their IR dtypes, and scalar constants, one
    entry per input position (all three None where an optional input is absent)."""

    args: Sequence[str | None]
    dtypes: Sequence[DType | None]
    consts: Sequence[float | int | None]   # the value of each argument that is a scalar constant
    out: DType
    attrs: object
    helpers: set                           # prelude helpers the expression uses (filled in)

    def f(self, x: str) -> str:
        """A float literal or expression in this call's compute type."""
        return x

    def use(self, helper: str) -> str:
        self.helpers.add(helper)
        return helper


_TABLE: dict[Op, Callable[[Call], str]] = section(LoweringKind.EXPR)


def lowering(*ops: Op):
    """Register ``fn(call) -> str`` as the elementwise expression of ``ops``."""
    return register(LoweringKind.EXPR, *ops)


def has_lowering(op: Op) -> bool:
    return op in _TABLE


def lower(op: Op, call: Call) -> str:
    present = [c for a, c in zip(call.args, call.consts) if a is not None]
    if present and call.args[0] is not None and all(c is not None for c in present):
        # every operand is a literal: make the first a 0-d tensor so tl functions and .to() apply
        d = call.dtypes[0]
        call.args = [f"tl.full([], {call.args[0]}, {compute_dtype(d)})"] + list(call.args[1:])
    return _TABLE[op](call)


def _is_float(c: Call, i: int = 0) -> bool:
    d = c.dtypes[i]
    return d is not None and d.is_float


# --- unary ---------------------------------------------------------------------------------
_SIMPLE_UNARY = {
    Op.EXP: "tl.exp({0})",
    Op.LOG: "tl.log({0})",
    Op.SQRT: "tl.sqrt_rn({0})",
    Op.RECIPROCAL: "(1.0 / {0})",
    Op.FLOOR: "tl.floor({0})",
    Op.CEIL: "tl.ceil({0})",
    Op.ERF: "tl.math.erf({0})",
    Op.SIN: "tl.sin({0})",
    Op.COS: "tl.cos({0})",
    Op.TAN: "(tl.sin({0}) / tl.cos({0}))",
    Op.SOFTSIGN: "({0} / (1.0 + tl.abs({0})))",
    Op.IDENTITY: "{0}",
    Op.DROPOUT: "{0}",
    Op.IS_NAN: "({0} != {0})",
    Op.BITWISE_NOT: "(~{0})",
}
for _op, _fmt in _SIMPLE_UNARY.items():
    lowering(_op)((lambda fmt: lambda c: fmt.format(*c.args))(_fmt))

_HELPER_UNARY = {
    Op.TANH: "_tanh", Op.SIGMOID: "_sigmoid", Op.ASIN: "_asin", Op.ACOS: "_acos", Op.ATAN: "_atan",
    Op.SINH: "_sinh", Op.COSH: "_cosh", Op.ASINH: "_asinh", Op.ACOSH: "_acosh", Op.ATANH: "_atanh",
    Op.SOFTPLUS: "_softplus", Op.ROUND: "_round_half_even",
}
for _op, _h in _HELPER_UNARY.items():
    lowering(_op)((lambda h: lambda c: f"{c.use(h)}({c.args[0]})")(_h))


@lowering(Op.ABS)
def _abs(c):
    return f"tl.abs({c.args[0]})" if c.dtypes[0].is_signed else c.args[0]


@lowering(Op.NEG)
def _neg(c):
    return f"(-{c.args[0]})"


@lowering(Op.SIGN)
def _sign(c):
    x = c.args[0]
    one, zero = ("1.0", "0.0") if _is_float(c) else ("1", "0")
    return f"tl.where({x} > 0, {one}, tl.where({x} < 0, -{one}, {zero}))" if c.dtypes[0].is_signed \
        else f"tl.where({x} > 0, {one}, {zero})"


@lowering(Op.RELU)
def _relu(c):
    zero = "0.0" if _is_float(c) else "0"
    return f"tl.where({c.args[0]} < 0, {zero}, {c.args[0]})"


@lowering(Op.NOT)
def _not(c):
    return f"({c.args[0]} == 0)"


@lowering(Op.IS_INF)
def _isinf(c):
    x, a = c.args[0], c.attrs
    parts = []
    if a.detect_positive:
        parts.append(f'({x} == float("inf"))')
    if a.detect_negative:
        parts.append(f'({x} == -float("inf"))')
    return " | ".join(parts) if parts else f"({x} != {x}) & ({x} == {x})"


@lowering(Op.LEAKY_RELU)
def _leaky(c):
    x = c.args[0]
    return f"tl.where({x} >= 0, {x}, {x} * {c.attrs.alpha!r})"


@lowering(Op.ELU)
def _elu(c):
    x = c.args[0]
    return f"tl.where({x} >= 0, {x}, {c.attrs.alpha!r} * (tl.exp({x}) - 1.0))"


@lowering(Op.SELU)
def _selu(c):
    x, a = c.args[0], c.attrs
    return f"{a.gamma!r} * tl.where({x} > 0, {x}, {a.alpha!r} * (tl.exp({x}) - 1.0))"


@lowering(Op.CELU)
def _celu(c):
    x, al = c.args[0], c.attrs.alpha
    return f"(tl.maximum({x}, 0.0) + tl.minimum(0.0, {al!r} * (tl.exp({x} / {al!r}) - 1.0)))"


@lowering(Op.HARD_SIGMOID)
def _hsig(c):
    x, a = c.args[0], c.attrs
    return f"tl.minimum(tl.maximum({a.alpha!r} * {x} + {a.beta!r}, 0.0), 1.0)"


@lowering(Op.HARD_SWISH)
def _hswish(c):
    x = c.args[0]
    return f"({x} * tl.minimum(tl.maximum({x} * (1.0 / 6.0) + 0.5, 0.0), 1.0))"


@lowering(Op.MISH)
def _mish(c):
    x = c.args[0]
    return f"({x} * {c.use('_tanh')}({c.use('_softplus')}({x})))"


@lowering(Op.GELU)
def _gelu(c):
    x = c.args[0]
    if c.attrs.approximate == "tanh":
        return f"(0.5 * {x} * (1.0 + {c.use('_tanh')}(0.7978845608028654 * ({x} + 0.044715 * {x} * {x} * {x}))))"
    return f"(0.5 * {x} * (1.0 + tl.math.erf({x} * 0.7071067811865476)))"


@lowering(Op.THRESHOLDED_RELU)
def _trelu(c):
    x = c.args[0]
    return f"tl.where({x} > {c.attrs.alpha!r}, {x}, 0.0)"


@lowering(Op.SHRINK)
def _shrink(c):
    x, a = c.args[0], c.attrs
    zero = "0.0" if _is_float(c) else "0"
    bias = repr(a.bias) if _is_float(c) else str(int(a.bias))
    return (f"tl.where({x} < -{a.lambd!r}, {x} + {bias}, "
            f"tl.where({x} > {a.lambd!r}, {x} - {bias}, {zero}))")


@lowering(Op.CAST)
def _cast(c):
    x, src, dst = c.args[0], c.dtypes[0], DType(c.attrs.to)
    if dst is DType.BOOL:
        return f"({x} != 0)"
    if dst in (DType.FLOAT16, DType.BFLOAT16):
        # round to the narrow type now, so later ops see what a stored value would hold
        return f"{x}.to({dst.triton_lang}).to(tl.float32)"
    return f"{x}.to({compute_dtype(dst)})"


@lowering(Op.BIT_CAST)
def _bitcast(c):
    x, src, dst = c.args[0], c.dtypes[0], DType(c.attrs.to)
    if src is DType.BOOL or dst is DType.BOOL:
        return f"{x}.to({compute_dtype(dst)})"            # 0/1 either way
    if compute_dtype(src) != src.triton_lang:
        x = f"{x}.to({src.triton_lang})"                  # back to the stored bits
    y = f"{x}.to({dst.triton_lang}, bitcast=True)"
    return y if compute_dtype(dst) == dst.triton_lang else f"{y}.to({compute_dtype(dst)})"


# --- binary --------------------------------------------------------------------------------
_INFIX = {Op.ADD: "+", Op.SUB: "-", Op.MUL: "*", Op.BITWISE_AND: "&", Op.BITWISE_OR: "|",
          Op.BITWISE_XOR: "^", Op.EQUAL: "==", Op.LESS: "<", Op.LESS_OR_EQUAL: "<=", Op.GREATER: ">",
          Op.GREATER_OR_EQUAL: ">=", Op.AND: "&", Op.OR: "|", Op.XOR: "^"}
for _op, _sym in _INFIX.items():
    lowering(_op)((lambda s: lambda c: f"({c.args[0]} {s} {c.args[1]})")(_sym))


@lowering(Op.DIV)
def _div(c):
    if _is_float(c):
        return f"({c.args[0]} / {c.args[1]})"
    return f"({c.args[0]} // {c.args[1]})"   # Triton integer // truncates toward zero, as ONNX


@lowering(Op.MOD)
def _mod(c):
    x, y = c.args
    if c.attrs.fmod:
        return f"({x} % {y})"                 # C fmod semantics
    return f"{c.use('_mod_floor')}({x}, {y})"   # numpy mod: the sign of the divisor


@lowering(Op.MAX)
def _max(c):
    extra = ", propagate_nan=tl.PropagateNan.ALL" if _is_float(c) else ""
    return f"tl.maximum({c.args[0]}, {c.args[1]}{extra})"


@lowering(Op.MIN)
def _min(c):
    extra = ", propagate_nan=tl.PropagateNan.ALL" if _is_float(c) else ""
    return f"tl.minimum({c.args[0]}, {c.args[1]}{extra})"


@lowering(Op.BIT_SHIFT)
def _shift(c):
    return f"({c.args[0]} {'<<' if c.attrs.direction == 'LEFT' else '>>'} {c.args[1]})"


@lowering(Op.POW)
def _pow(c):
    x, y = c.args
    e = c.consts[1]
    if c.consts[0] is not None:      # a literal base: helpers need a tensor
        x = f"tl.full([], {x}, {compute_dtype(c.dtypes[0])})"
    if not _is_float(c):
        return f"{c.use('_ipow')}({x}, {y}.to({compute_dtype(c.dtypes[0])}))"
    if e is not None:
        e = float(e)
        if e == 1.0:
            return x
        if e == 2.0:
            return f"({x} * {x})"
        if e == 3.0:
            return f"({x} * {x} * {x})"
        if e == 0.5:
            return f"tl.sqrt_rn({x})"
        if e == -1.0:
            return f"(1.0 / {x})"
        if e == 0.0:
            return f"({x} * 0.0 + 1.0)"
        # any other constant exponent: exp2(e * log2|x|), sign and NaN decided now
        mag = f"tl.exp2({e!r} * tl.log2(tl.abs({x})))"
        if e.is_integer():
            return f"tl.where({x} < 0, -{mag}, {mag})" if int(e) % 2 else mag
        return f'tl.where({x} < 0, float("nan"), {mag})'
    ycast = y if c.dtypes[1].is_float else f"{y}.to(tl.float32)"
    return f"{c.use('_pow')}({x}, {ycast})"


@lowering(Op.PRELU)
def _prelu(c):
    x, s = c.args
    return f"tl.where({x} >= 0, {x}, {x} * {s})"


@lowering(Op.CLIP)
def _clip(c):
    x = c.args[0]
    lo = c.args[1] if len(c.args) > 1 else None
    hi = c.args[2] if len(c.args) > 2 else None
    if lo is not None:
        x = f"tl.maximum({x}, {lo})"
    if hi is not None:
        x = f"tl.minimum({x}, {hi})"
    return x


@lowering(Op.WHERE)
def _where(c):
    return f"tl.where({c.args[0]}, {c.args[1]}, {c.args[2]})"


@lowering(Op.BATCH_NORMALIZATION)
def _bn(c):
    x, scale, b, mean, var = c.args
    return f"(({x} - {mean}) * (1.0 / tl.sqrt_rn({var} + {c.attrs.epsilon!r})) * {scale} + {b})"
