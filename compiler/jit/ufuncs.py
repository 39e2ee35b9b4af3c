"""numpy ufuncs (and the operators that map onto them) as IR nodes.

Types follow numpy exactly because numpy decides them: ``ufunc.resolve_dtypes`` picks the
inner loop for the operand dtypes (NEP 50: Python scalars are weak, numpy scalars and arrays
are not), operands are cast to the loop's dtypes, and the IR op computes in them. So
``x * 2.0`` stays float32, ``x * np.float64(2)`` becomes float64, ``i32 / i32`` is float64,
``x < 0.5`` compares in the loop's type — as numpy does.

Floor division and remainder follow numpy's ``divmod`` rules (sign of the divisor, the
``floor_divide(1, 0.1) == 9`` correction) rather than C's.
"""

from __future__ import annotations

import math
import operator
from typing import Callable

import numpy as np

from ..ir import DType, Op, Value
from .symbolic import SymDim
from .trace import Trace
from .tracer import Tracer

__all__ = ["UFUNCS", "apply_ufunc", "lift", "operand_dtype"]

Builder = Callable[..., Value]


def _op(op: Op, **attrs) -> Builder:
    return lambda t, *vs: t.apply(op, list(vs), **attrs)


def _not(t: Trace, v: Value) -> Value:
    return t.apply(Op.NOT, [v])


def _is_float(v: Value) -> bool:
    return v.dtype.is_float


def _c(t: Trace, value, like: Value) -> Value:
    return t.scalar(value, like.dtype.numpy)


def _where(t, c, a, b):
    return t.apply(Op.WHERE, [c, a, b])


def _floor_divide(t: Trace, a: Value, b: Value) -> Value:
    if not _is_float(a):
        # exact for integers: a - mod(a, b) is a multiple of b (numpy's floor mod, sign of b)
        r = t.apply(Op.MOD, [a, b], fmod=0)
        return t.apply(Op.DIV, [t.apply(Op.SUB, [a, r]), b])
    # numpy's npy_divmod: fmod, correct toward the divisor's sign, then round the quotient
    zero = _c(t, 0, a)
    mod = t.apply(Op.MOD, [a, b], fmod=1)
    div = t.apply(Op.DIV, [t.apply(Op.SUB, [a, mod]), b])
    flip = t.apply(Op.AND, [_not(t, t.apply(Op.EQUAL, [mod, zero])),
                            t.apply(Op.XOR, [t.apply(Op.LESS, [b, zero]), t.apply(Op.LESS, [mod, zero])])])
    div = _where(t, flip, t.apply(Op.SUB, [div, _c(t, 1, a)]), div)
    fl = t.apply(Op.FLOOR, [div])
    fl = _where(t, t.apply(Op.GREATER, [t.apply(Op.SUB, [div, fl]), _c(t, 0.5, a)]),
                t.apply(Op.ADD, [fl, _c(t, 1, a)]), fl)
    return _where(t, t.apply(Op.EQUAL, [b, zero]), t.apply(Op.DIV, [a, b]), fl)


def _remainder(t: Trace, a: Value, b: Value) -> Value:
    if not _is_float(a):
        return t.apply(Op.MOD, [a, b], fmod=0)
    zero = _c(t, 0, a)
    mod = t.apply(Op.MOD, [a, b], fmod=1)
    flip = t.apply(Op.AND, [_not(t, t.apply(Op.EQUAL, [mod, zero])),
                            t.apply(Op.XOR, [t.apply(Op.LESS, [b, zero]), t.apply(Op.LESS, [mod, zero])])])
    return _where(t, flip, t.apply(Op.ADD, [mod, b]), mod)


_DIRECT_EXPONENTS = (0.0, 0.5, 1.0, 2.0, 3.0, -1.0)   # codegen writes these as products / sqrt


def _scalar_of(v: Value):
    return float(v.const.reshape(())) if v.is_constant and v.const.size == 1 else None


def _power(t: Trace, x: Value, y: Value) -> Value:
    """x ** y. A small integer exponent (``x ** 4``, ``x ** -2``) becomes a few multiplies, exact
    where exp2(y * log2|x|) would round; a positive scalar base is exp(y * log(c)). Everything
    else is the IR's Pow."""
    if not _is_float(x):
        return t.apply(Op.POW, [x, y])
    base, c = _scalar_of(x), _scalar_of(y)
    if base is not None and c is None and base > 0 and np.isfinite(base):
        return t.apply(Op.EXP, [t.apply(Op.MUL, [y, _c(t, math.log(base), x)])])
    if c is None or c in _DIRECT_EXPONENTS or not np.isfinite(c) or c != int(c) or abs(c) > 16:
        return t.apply(Op.POW, [x, y])
    n, result, square = int(abs(c)), None, x
    while n:
        if n & 1:
            result = square if result is None else t.apply(Op.MUL, [result, square])
        n >>= 1
        if n:
            square = t.apply(Op.MUL, [square, square])
    return result if c > 0 else t.apply(Op.RECIPROCAL, [result])


def _trunc(t, x):
    return _where(t, t.apply(Op.LESS, [x, _c(t, 0, x)]), t.apply(Op.CEIL, [x]), t.apply(Op.FLOOR, [x]))


def _scaled_log(base):
    return lambda t, x: t.apply(Op.MUL, [t.apply(Op.LOG, [x]), _c(t, 1.0 / math.log(base), x)])


def _logical(op: Op) -> Builder:
    def build(t, *vs):
        vs = [v if v.dtype is DType.BOOL else t.cast(v, np.bool_) for v in vs]
        return t.apply(op, vs)
    return build


def _bitwise(bool_op: Op, int_op: Op) -> Builder:
    return lambda t, a, b: t.apply(bool_op if a.dtype is DType.BOOL else int_op, [a, b])


def _isnan(t, x):
    return t.apply(Op.IS_NAN, [x]) if _is_float(x) else _not(t, t.apply(Op.EQUAL, [x, x]))


def _isinf(t, x):
    return t.apply(Op.IS_INF, [x]) if _is_float(x) else t.apply(Op.NOT, [t.apply(Op.EQUAL, [x, x])])


def _isfinite(t, x):
    if not _is_float(x):
        return t.apply(Op.EQUAL, [x, x])
    return _not(t, t.apply(Op.OR, [t.apply(Op.IS_NAN, [x]), t.apply(Op.IS_INF, [x])]))


def _logaddexp(t, a, b):
    m = t.apply(Op.MAX, [a, b])
    d = t.apply(Op.NEG, [t.apply(Op.ABS, [t.apply(Op.SUB, [a, b])])])
    return t.apply(Op.ADD, [m, t.apply(Op.LOG, [t.apply(Op.ADD, [_c(t, 1, a), t.apply(Op.EXP, [d])])])])


def _reciprocal(t, x):
    if not _is_float(x):
        t.unsupported("integer reciprocal (1 // x) is not traced; divide explicitly")
    return t.apply(Op.RECIPROCAL, [x])


UFUNCS: dict[np.ufunc, Builder] = {
    np.add: _op(Op.ADD), np.subtract: _op(Op.SUB), np.multiply: _op(Op.MUL), np.true_divide: _op(Op.DIV),
    np.floor_divide: _floor_divide, np.remainder: _remainder, np.fmod: _op(Op.MOD, fmod=1),
    np.power: _power, np.float_power: _power,
    np.maximum: _op(Op.MAX), np.minimum: _op(Op.MIN),
    np.negative: _op(Op.NEG), np.positive: lambda t, x: x, np.absolute: _op(Op.ABS), np.fabs: _op(Op.ABS),
    np.sign: _op(Op.SIGN), np.square: lambda t, x: t.apply(Op.MUL, [x, x]), np.reciprocal: _reciprocal,
    np.exp: _op(Op.EXP), np.log: _op(Op.LOG), np.sqrt: _op(Op.SQRT),
    np.exp2: lambda t, x: t.apply(Op.EXP, [t.apply(Op.MUL, [x, _c(t, math.log(2), x)])]),
    np.expm1: lambda t, x: t.apply(Op.SUB, [t.apply(Op.EXP, [x]), _c(t, 1, x)]),
    np.log1p: lambda t, x: t.apply(Op.LOG, [t.apply(Op.ADD, [x, _c(t, 1, x)])]),
    np.log2: _scaled_log(2), np.log10: _scaled_log(10), np.logaddexp: _logaddexp,
    np.sin: _op(Op.SIN), np.cos: _op(Op.COS), np.tan: _op(Op.TAN), np.arcsin: _op(Op.ASIN),
    np.arccos: _op(Op.ACOS), np.arctan: _op(Op.ATAN), np.sinh: _op(Op.SINH), np.cosh: _op(Op.COSH),
    np.tanh: _op(Op.TANH), np.arcsinh: _op(Op.ASINH), np.arccosh: _op(Op.ACOSH), np.arctanh: _op(Op.ATANH),
    np.floor: _op(Op.FLOOR), np.ceil: _op(Op.CEIL), np.rint: _op(Op.ROUND), np.trunc: _trunc,
    np.hypot: lambda t, a, b: t.apply(Op.SQRT, [t.apply(Op.ADD, [t.apply(Op.MUL, [a, a]),
                                                                t.apply(Op.MUL, [b, b])])]),
    np.deg2rad: lambda t, x: t.apply(Op.MUL, [x, _c(t, math.pi / 180, x)]),
    np.rad2deg: lambda t, x: t.apply(Op.MUL, [x, _c(t, 180 / math.pi, x)]),
    np.equal: _op(Op.EQUAL), np.not_equal: lambda t, a, b: _not(t, t.apply(Op.EQUAL, [a, b])),
    np.less: _op(Op.LESS), np.less_equal: _op(Op.LESS_OR_EQUAL), np.greater: _op(Op.GREATER),
    np.greater_equal: _op(Op.GREATER_OR_EQUAL),
    np.logical_and: _logical(Op.AND), np.logical_or: _logical(Op.OR), np.logical_xor: _logical(Op.XOR),
    np.logical_not: _logical(Op.NOT),
    np.bitwise_and: _bitwise(Op.AND, Op.BITWISE_AND), np.bitwise_or: _bitwise(Op.OR, Op.BITWISE_OR),
    np.bitwise_xor: _bitwise(Op.XOR, Op.BITWISE_XOR),
    np.invert: lambda t, x: t.apply(Op.NOT if x.dtype is DType.BOOL else Op.BITWISE_NOT, [x]),
    np.left_shift: _op(Op.BIT_SHIFT, direction="LEFT"), np.right_shift: _op(Op.BIT_SHIFT, direction="RIGHT"),
    np.isnan: _isnan, np.isinf: _isinf, np.isfinite: _isfinite,
}

def lift(t: Trace, x, dtype=None) -> Value:
    """Any operand (tracer, ndarray, numpy or Python scalar) as a value, cast to ``dtype``."""
    if isinstance(x, Tracer):
        if x._trace is not t:
            t.unsupported("a traced array from another cortado.jit trace was used here",
                          hint="return arrays from jitted functions instead of storing them")
        return x._value if dtype is None else t.cast(x._value, dtype)
    if isinstance(x, SymDim):
        x = operator.index(x)           # a symbolic size used as a value: make it concrete
    if isinstance(x, (list, tuple)) and _has_tracer(x):
        t.unsupported("a list or tuple holding traced arrays is not an array",
                      hint="combine them with np.stack or np.concatenate")
    arr = np.asarray(x)
    if dtype is not None:
        with np.errstate(all="ignore"):
            arr = arr.astype(np.dtype(dtype))
    return t.constant(arr)


def _has_tracer(x) -> bool:
    return any(isinstance(e, Tracer) or (isinstance(e, (list, tuple)) and _has_tracer(e)) for e in x)


def operand_dtype(x):
    """What numpy's type resolution sees: an array's dtype, or a Python scalar's weak type."""
    if isinstance(x, Tracer):
        return x.dtype
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype
    if isinstance(x, bool):
        return np.dtype(np.bool_)
    if isinstance(x, (int, float, complex)):
        return type(x)
    if isinstance(x, SymDim):
        return int
    return np.asarray(x).dtype


def apply_ufunc(t: Trace, ufunc, operands, dtype=None):
    """``ufunc(*operands)`` traced: resolve the loop, cast, build, and return a tracer."""
    builder = UFUNCS.get(ufunc)
    if builder is None:
        t.unsupported("this ufunc is not traced")
    dtypes = tuple(operand_dtype(x) for x in operands) + (None,) * ufunc.nout
    try:
        if dtype is None:
            loop = ufunc.resolve_dtypes(dtypes)
        else:
            loop = ufunc.resolve_dtypes(dtypes, signature=(None,) * ufunc.nin + (np.dtype(dtype),))
    except (TypeError, ValueError) as e:
        loop, error = None, str(e)
    if loop is None:
        t.unsupported(f"numpy has no loop for these operand types ({error})")
    values = [lift(t, x, loop[i]) for i, x in enumerate(operands)]
    shape = t.broadcast_shape(*(v.shape for v in values))
    del shape   # checked here so that symbolic dims specialize before the op sees them
    out = builder(t, *values)
    return t.tracer(t.numpy_shaped(t.cast(out, loop[-1]), operands))
