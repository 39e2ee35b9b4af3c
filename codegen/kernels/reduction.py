"""Row reductions and row normalizations, with pointwise prologue and epilogue.

The input is seen as a matrix: rows are the kept axes, columns the reduced ones (any axes, not
only trailing ones — the index math unravels both). A program owns BR rows and walks the
columns in BC-wide tiles. Reductions (ReduceSum, GlobalAveragePool, ...) store one value per
row; normalizations (Softmax, LogSoftmax) make statistic passes and then a write pass over the
row. When a whole row fits in one tile the kernel is *persistent*: the row is loaded once and
every pass reuses it.

Each anchor op is described by a ``RowSpec``: which axes it reduces, the passes it needs and
how the output is formed from the statistics, so new reductions are table entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from compiler.ir import Node, Op, Value
from compiler.ir.dims import Dim, prod

from .. import index as ix
from ..config import INTERPRETER_BLOCK, next_pow2, static_size
from ..writer import KernelSource, KernelWriter, elementwise_flops, tensor_bytes
from .common import function_source, what

NEG_INF, POS_INF = '-float("inf")', 'float("inf")'


@dataclass
class Stat:
    """One per-row statistic: ``combine`` folds a tile into the [BR, BC] accumulator and
    ``reduce`` turns it into a [BR, 1] column. ``term(x, stats)`` maps the input first (it may
    use statistics of earlier passes, e.g. exp(x - max))."""

    name: str
    init: str
    combine: Callable[[str, str], str]
    reduce: Callable[[str], str]
    term: Callable[[str, dict], str] = lambda x, s: x
    helpers: tuple[str, ...] = ()


def row_reduce(acc: str, combine: str) -> str:
    """Reduce a [BR, BC] tile over its columns with a prelude combine function -> [BR, 1].

    ``tl.sum``/``tl.max`` are ``@triton.jit`` library functions built when triton is imported,
    in whichever mode (compiled or interpreted) was active then; ``tl.reduce`` with a combine
    function defined in the generated module works in both."""
    return f"tl.reduce({acc}, 1, {combine})[:, None]"


def _sum_stat(name, term=lambda x, s: x):
    return Stat(name, "0.0", lambda a, t: f"{a} + {t}", lambda a: row_reduce(a, "_sum_combine"), term,
                ("_sum_combine",))


def _max_stat(name, term=lambda x, s: x):
    return Stat(name, NEG_INF, lambda a, t: f"tl.maximum({a}, {t}, propagate_nan=tl.PropagateNan.ALL)",
                lambda a: row_reduce(a, "_max_combine"), term, ("_max_combine",))


def _min_stat(name, term=lambda x, s: x):
    return Stat(name, POS_INF, lambda a, t: f"tl.minimum({a}, {t}, propagate_nan=tl.PropagateNan.ALL)",
                lambda a: row_reduce(a, "_min_combine"), term, ("_min_combine",))


@dataclass
class RowSpec:
    x: Value
    axes: tuple[int, ...]
    passes: list[list[Stat]]                     # statistic passes, in order
    result: Callable[[dict, str, str], str]      # (stats, x or None, R as source text) -> output
    normalize: bool                              # output has x's shape (else one value per row)
    params: list = field(default_factory=list)


_SPECS: dict[Op, Callable[[Node], RowSpec]] = {}


def row_spec(*ops: Op):
    def deco(fn):
        for op in ops:
            _SPECS[op] = fn
        return fn
    return deco


def has_spec(op: Op) -> bool:
    return op in _SPECS


def _spatial_axes(node):
    return tuple(range(2, node.inputs[0].type.rank))


@row_spec(Op.GLOBAL_AVERAGE_POOL)
def _gap(node):
    return RowSpec(node.inputs[0], _spatial_axes(node), [[_sum_stat("s")]],
                   lambda s, x, R: f"{s['s']} / {R}", False)


@row_spec(Op.GLOBAL_MAX_POOL)
def _gmp(node):
    return RowSpec(node.inputs[0], _spatial_axes(node), [[_max_stat("m")]], lambda s, x, R: s["m"], False)


@row_spec(Op.SOFTMAX)
def _softmax(node):
    x = node.inputs[0]
    axis = node.attrs.axis % x.type.rank
    return RowSpec(x, (axis,), [[_max_stat("m")], [_sum_stat("s", lambda t, s: f"tl.exp({t} - {s['m']})")]],
                   lambda s, t, R: f"tl.exp({t} - {s['m']}) / {s['s']}", True)


@row_spec(Op.LOG_SOFTMAX)
def _log_softmax(node):
    x = node.inputs[0]
    axis = node.attrs.axis % x.type.rank
    return RowSpec(x, (axis,), [[_max_stat("m")], [_sum_stat("s", lambda t, s: f"tl.exp({t} - {s['m']})")]],
                   lambda s, t, R: f"{t} - {s['m']} - tl.log({s['s']})", True)


def _configs(rows: Dim, R: Dim, persistent_limit: int) -> dict[str, dict]:
    r = static_size(R, 1024)
    nrows = static_size(rows)
    ibc = min(next_pow2(r), INTERPRETER_BLOCK)
    ibr = max(1, min(next_pow2(nrows), INTERPRETER_BLOCK // ibc))
    cbc = min(next_pow2(r), persistent_limit)
    cbr = max(1, min(next_pow2(nrows), 2048 // cbc)) if cbc < 2048 else 1
    warps = 4 if cbc * cbr <= 2048 else 8
    return {"interpreter": {"BR": ibr, "BC": ibc, "num_warps": 4, "num_stages": 1},
            "cuda": {"BR": cbr, "BC": cbc, "num_warps": warps, "num_stages": 1}}


def generate(nodes: Sequence[Node], anchor: Node, outputs: Sequence[Value]) -> KernelSource:
    spec = _SPECS[anchor.op](anchor)
    x = spec.x
    shape = tuple(x.shape)
    axes = tuple(sorted(spec.axes))
    kept = tuple(a for a in range(len(shape)) if a not in axes)
    R = prod(shape[a] for a in axes)
    ROWS = prod(shape[a] for a in kept)
    persistent = isinstance(R, int) and R <= 8192
    w = KernelWriter(nodes, tile="[BR, BC]", mask=None)
    w.axes = {"rows": 0, "cols": 1}
    w.line("pid = tl.program_id(0)")
    w.line("rows = pid * BR + tl.arange(0, BR)[:, None]")
    w.line(f"row_mask = rows < {w.dim(ROWS, 'n_rows')}")
    rc = ix.unravel(ix.var("rows"), tuple(shape[a] for a in kept))

    def x_index(cols_var: str):
        cc = ix.unravel(ix.var(cols_var), tuple(shape[a] for a in axes))
        idx = [None] * len(shape)
        for j, a in enumerate(kept):
            idx[a] = rc[j]
        for j, a in enumerate(axes):
            idx[a] = cc[j]
        return tuple(idx)

    stats: dict[str, str] = {}
    cached_x = None
    if persistent:
        w.line("cols = tl.arange(0, BC)[None, :]")
        w.mask = w.guard(f"row_mask & (cols < {w.dim(R, 'n_cols')})")
        cached_x = w.value_at(x, x_index("cols"))

    for stat_pass in spec.passes:
        accs = {}
        for st in stat_pass:
            w.helpers.update(st.helpers)
            accs[st.name] = w.assign("acc", f"tl.full([BR, BC], {st.init}, tl.float32)")
        if persistent:
            for st in stat_pass:
                t = w.assign("t", st.term(cached_x, stats))
                w.line(f"{accs[st.name]} = tl.where({w.mask}, {st.combine(accs[st.name], t)}, {accs[st.name]})")
        else:
            w.line(f"for c0 in range(0, {w.dim(R, 'n_cols')}, BC):")
            with w.scope():
                w.line("cols = c0 + tl.arange(0, BC)[None, :]")
                m = w.guard(f"row_mask & (cols < {w.dim(R, 'n_cols')})")
                saved, w.mask = w.mask, m
                xv = w.value_at(x, x_index("cols"))
                for st in stat_pass:
                    t = w.assign("t", st.term(xv, stats))
                    w.line(f"{accs[st.name]} = tl.where({m}, {st.combine(accs[st.name], t)}, {accs[st.name]})")
                w.mask = saved
        for st in stat_pass:
            stats[st.name] = w.assign(st.name + "_", st.reduce(accs[st.name]))

    anchor_out = anchor.outputs[0]
    if spec.normalize:
        def write(xv):
            idx = x_index("cols")
            w.seed(anchor_out, idx, w.assign("y", spec.result(stats, xv, w.dim(R, "n_cols"))))
            for i, out in enumerate(outputs):
                w.store(out, idx, w.value_at(out, idx), role="out" if len(outputs) == 1 else f"out{i}")
        if persistent:
            write(cached_x)
        else:
            w.line(f"for c0 in range(0, {w.dim(R, 'n_cols')}, BC):")
            with w.scope():
                w.line("cols = c0 + tl.arange(0, BC)[None, :]")
                w.mask = w.guard(f"row_mask & (cols < {w.dim(R, 'n_cols')})")
                write(w.value_at(x, x_index("cols")))
    else:
        w.mask = "row_mask"
        w.store_shape = "[BR, 1]"
        out_index = ix.unravel(ix.var("rows"), anchor_out.shape)
        w.seed(anchor_out, out_index, w.assign("y", spec.result(stats, None, w.dim(R, "n_cols"))))
        for i, out in enumerate(outputs):
            w.store(out, out_index, w.value_at(out, out_index), role="out" if len(outputs) == 1 else f"out{i}")

    moved = tensor_bytes(w.loads) + tensor_bytes(outputs)
    flops = x.type.numel * len(spec.passes) + elementwise_flops(nodes)
    src = function_source(w, ["BR", "BC"], nodes, outputs, moved)
    return KernelSource(what(nodes), src, w.params, (f"cdiv({ROWS}, BR)",), _configs(ROWS, R, 8192),
                        list(nodes), list(w.loads), list(outputs), w.helpers, moved, flops, "reduction")
