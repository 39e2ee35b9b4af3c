"""Math helpers emitted into generated modules when a kernel uses them.

``triton.language`` has exp/log/sqrt/erf/sin/cos but not tanh, atan or a pow that handles
negative bases; libdevice has them on GPUs but not in the interpreter. These helpers are
written with portable ``tl`` operations (with small-argument series where the closed form
would cancel), so one kernel source runs everywhere with float32 accuracy.
"""

from __future__ import annotations

HELPERS: dict[str, tuple[str, tuple[str, ...]]] = {}   # name -> (source, helpers it calls)


def _helper(name: str, source: str, deps: tuple[str, ...] = ()):
    HELPERS[name] = (source.strip("\n"), deps)


# Combine functions for tl.reduce / tl.associative_scan (see kernels.reduction.row_reduce).
_helper("_sum_combine", '''
@triton.jit
def _sum_combine(a, b):
    return a + b
''')

_helper("_prod_combine", '''
@triton.jit
def _prod_combine(a, b):
    return a * b
''')

_helper("_max_combine", '''
@triton.jit
def _max_combine(a, b):
    return tl.maximum(a, b, propagate_nan=tl.PropagateNan.ALL)
''')

_helper("_min_combine", '''
@triton.jit
def _min_combine(a, b):
    return tl.minimum(a, b, propagate_nan=tl.PropagateNan.ALL)
''')

_helper("_imax_combine", '''
@triton.jit
def _imax_combine(a, b):
    return tl.maximum(a, b)
''')

_helper("_imin_combine", '''
@triton.jit
def _imin_combine(a, b):
    return tl.minimum(a, b)
''')

# Row reductions of a [R, C] tile to [R, 1] (C a power of two). On GPUs they are tl.reduce
# with the combine functions above; under the interpreter (TREE=1, set per target in the
# launch configs) a tl.reduce with a user combine function runs one Python call per element,
# so there the tile is folded in halves instead: log2(C) steps of whole-tile numpy work.
for _kind, _op, _comb in [("sum", "a + b", "_sum_combine"), ("prod", "a * b", "_prod_combine"),
                          ("max", "tl.maximum(a, b, propagate_nan=tl.PropagateNan.ALL)", "_max_combine"),
                          ("min", "tl.minimum(a, b, propagate_nan=tl.PropagateNan.ALL)", "_min_combine"),
                          ("imax", "tl.maximum(a, b)", "_imax_combine"),
                          ("imin", "tl.minimum(a, b)", "_imin_combine")]:
    _helper(f"_row_{_kind}", f'''
@triton.jit
def _row_{_kind}(x, TREE: tl.constexpr):
    if TREE:
        while x.shape[1] > 1:
            a, b = tl.split(tl.reshape(x, [x.shape[0], x.shape[1] // 2, 2]))
            x = {_op}
        return x
    else:
        return tl.reduce(x, 1, {_comb})[:, None]
''', (_comb,))

_helper("_tree_cumsum", '''
@triton.jit
def _tree_cumsum(x):
    # inclusive prefix sums along axis 1 by pairs: scan the pair sums, then fill in the
    # first element of each pair (interpreter only; see _row_cumsum)
    if x.shape[1] == 1:
        return x
    a, b = tl.split(tl.reshape(x, [x.shape[0], x.shape[1] // 2, 2]))
    s = _tree_cumsum(a + b)
    return tl.reshape(tl.join(s - b, s), [x.shape[0], x.shape[1]])
''')

_helper("_row_cumsum", '''
@triton.jit
def _row_cumsum(x, TREE: tl.constexpr):
    if TREE:
        return _tree_cumsum(x)
    else:
        return tl.associative_scan(x, 1, _sum_combine)
''', ("_tree_cumsum", "_sum_combine"))

_helper("_tree_cumprod", '''
@triton.jit
def _tree_cumprod(x):
    # inclusive prefix products along axis 1, as _tree_cumsum (interpreter only)
    if x.shape[1] == 1:
        return x
    a, b = tl.split(tl.reshape(x, [x.shape[0], x.shape[1] // 2, 2]))
    s = _tree_cumprod(a * b)
    first = _tree_cumprod_excl(a * b) * a
    return tl.reshape(tl.join(first, s), [x.shape[0], x.shape[1]])
''', ("_tree_cumprod_excl",))

_helper("_tree_cumprod_excl", '''
@triton.jit
def _tree_cumprod_excl(x):
    # exclusive prefix products along axis 1 (no division, so zeros are exact)
    if x.shape[1] == 1:
        return tl.full(x.shape, 1, x.dtype)
    a, b = tl.split(tl.reshape(x, [x.shape[0], x.shape[1] // 2, 2]))
    e = _tree_cumprod_excl(a * b)
    return tl.reshape(tl.join(e, e * a), [x.shape[0], x.shape[1]])
''')

_helper("_row_cumprod", '''
@triton.jit
def _row_cumprod(x, TREE: tl.constexpr):
    if TREE:
        return _tree_cumprod(x)
    else:
        return tl.associative_scan(x, 1, _prod_combine)
''', ("_tree_cumprod", "_prod_combine"))

_helper("_sigmoid", '''
@triton.jit
def _sigmoid(x):
    return 1.0 / (1.0 + tl.exp(-x))
''')

_helper("_tanh", '''
@triton.jit
def _tanh(x):
    # tanh(x) = sign(x) * (1 - e) / (1 + e), e = exp(-2|x|); odd series near 0 avoids cancellation
    ax = tl.abs(x)
    e = tl.exp(-2.0 * ax)
    big = (1.0 - e) / (1.0 + e)
    x2 = x * x
    small = ax * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0))))
    r = tl.where(ax < 0.05, small, big)
    return tl.where(x < 0, -r, r)
''')

_helper("_softplus", '''
@triton.jit
def _softplus(x):
    return tl.maximum(x, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(x)))
''')

_helper("_atan", '''
@triton.jit
def _atan(x):
    # reduce to [0, 1] (atan(t) = pi/2 - atan(1/t)), then to [0, tan(pi/12)] with
    # atan(t) = pi/6 + atan((t*sqrt3 - 1) / (t + sqrt3)), then an odd Taylor series.
    ax = tl.abs(x)
    inv = ax > 1.0
    t = tl.where(inv, 1.0 / ax, ax)
    shift = t > 0.2679491924311227
    t = tl.where(shift, (t * 1.7320508075688772 - 1.0) / (t + 1.7320508075688772), t)
    t2 = t * t
    p = t * (1.0 + t2 * (-1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (-1.0 / 7.0 + t2 * (1.0 / 9.0 + t2 * (-1.0 / 11.0))))))
    p = tl.where(shift, p + 0.5235987755982988, p)
    p = tl.where(inv, 1.5707963267948966 - p, p)
    return tl.where(x < 0, -p, p)
''')

_helper("_asin", '''
@triton.jit
def _asin(x):
    return _atan(x / tl.sqrt_rn((1.0 - x) * (1.0 + x)))
''', ("_atan",))

_helper("_acos", '''
@triton.jit
def _acos(x):
    return 2.0 * _atan(tl.sqrt_rn((1.0 - x) / (1.0 + x)))
''', ("_atan",))

_helper("_sinh", '''
@triton.jit
def _sinh(x):
    x2 = x * x
    small = x * (1.0 + x2 * (1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (1.0 / 5040.0 + x2 / 362880.0))))
    return tl.where(tl.abs(x) < 0.5, small, 0.5 * (tl.exp(x) - tl.exp(-x)))
''')

_helper("_cosh", '''
@triton.jit
def _cosh(x):
    return 0.5 * (tl.exp(x) + tl.exp(-x))
''')

_helper("_asinh", '''
@triton.jit
def _asinh(x):
    ax = tl.abs(x)
    x2 = x * x
    small = ax * (1.0 + x2 * (-1.0 / 6.0 + x2 * (3.0 / 40.0)))
    r = tl.where(ax < 0.02, small, tl.log(ax + tl.sqrt_rn(x2 + 1.0)))
    return tl.where(x < 0, -r, r)
''')

_helper("_acosh", '''
@triton.jit
def _acosh(x):
    return tl.log(x + tl.sqrt_rn((x - 1.0) * (x + 1.0)))
''')

_helper("_atanh", '''
@triton.jit
def _atanh(x):
    x2 = x * x
    small = x * (1.0 + x2 * (1.0 / 3.0 + x2 * (1.0 / 5.0)))
    return tl.where(tl.abs(x) < 0.02, small, 0.5 * tl.log((1.0 + x) / (1.0 - x)))
''')

_helper("_round_half_even", '''
@triton.jit
def _round_half_even(x):
    r = tl.floor(x + 0.5)
    tie = (r - x) == 0.5
    odd = (r % 2.0) != 0.0
    return tl.where(tie & odd, r - 1.0, r)
''')

_helper("_pow", '''
@triton.jit
def _pow(x, y):
    # x ** y for float x: exp2(y * log2|x|), with the sign of x for odd integer y,
    # NaN for negative x and non-integer y, and exact handling of x == 0.
    y = tl.full(x.shape, 0.0, x.dtype) + y      # a literal exponent becomes a tensor
    x = tl.full(y.shape, 0.0, x.dtype) + x      # and a literal base one of the exponent's shape
    ax = tl.abs(x)
    r = tl.exp2(y * tl.log2(ax))
    y_int = tl.floor(y) == y
    y_odd = y_int & ((tl.abs(y) % 2.0) == 1.0)
    r = tl.where((x < 0) & y_odd, -r, r)
    r = tl.where((x < 0) & (~y_int), float("nan"), r)
    r = tl.where(y == 0.0, 1.0, r)
    return r
''')

_helper("_ipow", '''
@triton.jit
def _ipow(x, y):
    # integer power by repeated squaring over the bits of y (y >= 0; y < 0 gives 0 unless |x| == 1)
    result = x * 0 + 1
    base = x
    e = y
    for _ in tl.static_range(63):
        result = tl.where((e & 1) == 1, result * base, result)
        base = base * base
        e = e >> 1
    return tl.where(y < 0, tl.where(x == 1, 1, tl.where(x == -1, tl.where((y & 1) == 1, -1, 1), 0)), result)
''')

_helper("_mod_floor", '''
@triton.jit
def _mod_floor(x, y):
    # Python-style integer modulo: the result takes the sign of the divisor
    r = x % y
    return tl.where((r != 0) & ((r < 0) != (y < 0)), r + y, r)
''')


def prelude_source(names: set[str]) -> str:
    """Source of the requested helpers and everything they call, dependencies first."""
    order: list[str] = []

    def visit(n: str):
        if n in order:
            return
        for d in HELPERS[n][1]:
            visit(d)
        order.append(n)

    for n in sorted(names):
        visit(n)
    return "\n\n\n".join(HELPERS[n][0] for n in order)
