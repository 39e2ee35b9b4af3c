"""The row specs: each reduction or normalization op as statistic passes plus a result.

A spec names the input, the reduced axes, the passes (``Stat``s folded over each row, later
passes may use earlier statistics) and the output element. ``stats["R"]`` is the row length.
Variances are two-pass (sum of squared deviations from the mean), which keeps float32 exact
enough for long rows with a large mean.
"""

from __future__ import annotations

from cortado.ir import Op

from .rows import RowSpec, Stat, row_spec


def _axes_from(node, start):
    return tuple(range(start, node.inputs[0].type.rank))


def _nonzero(R: str) -> str:
    """A row length to divide by: a symbolic one bound to 0 (an empty axis) divides by 1, so
    the mean of nothing is 0 as in onnxruntime, not 0/0."""
    return R if R.isdigit() else f"tl.maximum({R}, 1)"


def _mean(s):
    return f"({s['s']} / {_nonzero(s['R'])})"


def _moment_passes():
    return [[Stat("s", "sum")], [Stat("v", "sum", lambda t, s: f"({t} - {_mean(s)}) * ({t} - {_mean(s)})")]]


def _rstd(s, eps):
    return f"(1.0 / tl.sqrt_rn({s['v']} / {s['R']} + {float(eps)!r}))"


# -- reductions ------------------------------------------------------------------------------
@row_spec(Op.GLOBAL_AVERAGE_POOL)
def _gap(node):
    return RowSpec(node.inputs[0], _axes_from(node, 2), [[Stat("s", "sum")]], lambda c: _mean(c.stats), False)


@row_spec(Op.GLOBAL_MAX_POOL)
def _gmp(node):
    return RowSpec(node.inputs[0], _axes_from(node, 2), [[Stat("m", "max")]], lambda c: c.stats["m"], False)


_SIMPLE = {
    Op.REDUCE_SUM: ("sum", lambda t: t, lambda c, s: s),
    Op.REDUCE_MEAN: ("sum", lambda t: t, lambda c, s: f"({s} / {_nonzero(c.R)})" if "float" in c.acc
                   else f"({s} // {_nonzero(c.R)})"),
    Op.REDUCE_MAX: ("max", lambda t: t, lambda c, s: s),
    Op.REDUCE_MIN: ("min", lambda t: t, lambda c, s: s),
    Op.REDUCE_PROD: ("prod", lambda t: t, lambda c, s: s),
    Op.REDUCE_L1: ("sum", lambda t: f"tl.abs({t})", lambda c, s: s),
    Op.REDUCE_L2: ("sum", lambda t: f"{t} * {t}", lambda c, s: f"tl.sqrt_rn({s})"),
    Op.REDUCE_LOG_SUM: ("sum", lambda t: t, lambda c, s: f"tl.log({s})"),
    Op.REDUCE_SUM_SQUARE: ("sum", lambda t: f"{t} * {t}", lambda c, s: s),
}


def _simple(node):
    kind, term, result = _SIMPLE[node.op]
    return RowSpec(node.inputs[0], node.attrs.axes, [[Stat("r", kind, lambda t, s: term(t))]],
                   lambda c: result(c, c.stats["r"]), False)


row_spec(*_SIMPLE)(_simple)


@row_spec(Op.REDUCE_LOG_SUM_EXP)
def _logsumexp(node):
    def safe(s):
        return f"tl.where({s['m']} == -float(\"inf\"), 0.0, {s['m']})"
    return RowSpec(node.inputs[0], node.attrs.axes,
                   [[Stat("m", "max")], [Stat("s", "sum", lambda t, s: f"tl.exp({t} - {safe(s)})")]],
                   lambda c: f"(tl.log({c.stats['s']}) + {safe(c.stats)})", False)


def _index_passes(node, largest: bool, last: bool):
    """Pass 1: the row's max (or min); pass 2: the first (or last) column holding it.
    A NaN wins, as in numpy: the statistic propagates it and ``x != x`` finds it."""
    floats = node.inputs[0].dtype.is_float

    def hit(t, s):
        eq = f"({t} == {s['m']})"
        return f"({eq} | ({t} != {t}))" if floats else eq

    big = "2147483647"
    pick = Stat("i", "max", lambda t, s: f"tl.where({hit(t, s)}, cols, -1)", "tl.int32") if last else \
        Stat("i", "min", lambda t, s: f"tl.where({hit(t, s)}, cols, {big})", "tl.int32")
    return [[Stat("m", "max" if largest else "min")], [pick]]


@row_spec(Op.ARG_MAX, Op.ARG_MIN)
def _argmax(node):
    passes = _index_passes(node, node.op is Op.ARG_MAX, bool(node.attrs.select_last_index))
    return RowSpec(node.inputs[0], (node.attrs.axis,), passes, lambda c: f"{c.stats['i']}.to(tl.int64)", False)


# -- normalizations --------------------------------------------------------------------------
def _axis(node):
    return node.attrs.axis % node.inputs[0].type.rank


@row_spec(Op.SOFTMAX)
def _softmax(node):
    return RowSpec(node.inputs[0], (_axis(node),),
                   [[Stat("m", "max")], [Stat("s", "sum", lambda t, s: f"tl.exp({t} - {s['m']})")]],
                   lambda c: f"tl.exp({c.x} - {c.stats['m']}) / {c.stats['s']}", True)


@row_spec(Op.LOG_SOFTMAX)
def _log_softmax(node):
    return RowSpec(node.inputs[0], (_axis(node),),
                   [[Stat("m", "max")], [Stat("s", "sum", lambda t, s: f"tl.exp({t} - {s['m']})")]],
                   lambda c: f"{c.x} - {c.stats['m']} - tl.log({c.stats['s']})", True)


@row_spec(Op.HARDMAX)
def _hardmax(node):
    one, zero = ("1.0", "0.0") if node.inputs[0].dtype.is_float else ("1", "0")
    return RowSpec(node.inputs[0], (_axis(node),), _index_passes(node, True, False),
                   lambda c: f"tl.where(cols == {c.stats['i']}, {one}, {zero})", True)


@row_spec(Op.LAYER_NORMALIZATION)
def _layer_norm(node):
    x, scale = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 else None

    def result(c):
        y = f"({c.x} - {_mean(c.stats)}) * {_rstd(c.stats, node.attrs.epsilon)} * {c.at(scale)}"
        return f"{y} + {c.at(bias)}" if bias is not None else y
    return RowSpec(x, _axes_from(node, node.attrs.axis), _moment_passes(), result, True)


@row_spec(Op.INSTANCE_NORMALIZATION)
def _instance_norm(node):
    x, scale, bias = node.inputs

    def result(c):
        return (f"({c.x} - {_mean(c.stats)}) * {_rstd(c.stats, node.attrs.epsilon)} * {c.at(scale, (1,))}"
                f" + {c.at(bias, (1,))}")
    return RowSpec(x, _axes_from(node, 2), _moment_passes(), result, True)


@row_spec(Op.GROUP_NORMALIZATION)
def _group_norm(node):
    x, scale, bias = node.inputs
    n, ch, rest = x.shape[0], x.shape[1], tuple(x.shape[2:])
    g = node.attrs.num_groups
    view = (n, g, ch // g) + rest

    def result(c):
        return (f"({c.x} - {_mean(c.stats)}) * {_rstd(c.stats, node.attrs.epsilon)} * {c.at(scale, (1,))}"
                f" + {c.at(bias, (1,))}")
    return RowSpec(x, tuple(range(2, len(view))), _moment_passes(), result, True, view=view)


@row_spec(Op.LP_NORMALIZATION)
def _lp_norm(node):
    term = (lambda t, s: f"tl.abs({t})") if node.attrs.p == 1 else (lambda t, s: f"{t} * {t}")

    def result(c):
        norm = c.stats["n"] if node.attrs.p == 1 else f"tl.sqrt_rn({c.stats['n']})"
        return f"tl.where({norm} == 0.0, 0.0, {c.x} / {norm})"
    return RowSpec(node.inputs[0], (_axis(node),), [[Stat("n", "sum", term)]], result, True)


@row_spec(Op.MEAN_VARIANCE_NORMALIZATION)
def _mvn(node):
    def result(c):
        return f"({c.x} - {_mean(c.stats)}) / (tl.sqrt_rn({c.stats['v']} / {c.stats['R']}) + 1e-09)"
    return RowSpec(node.inputs[0], tuple(node.attrs.axes), _moment_passes(), result, True)
