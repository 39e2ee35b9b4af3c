"""Row reductions and row normalizations, with pointwise prologue and epilogue.

The input is seen as a matrix: rows are the kept axes, columns the reduced ones (any axes, not
only trailing ones — the index math unravels both). A program owns BR rows and walks the
columns in BC-wide tiles. Reductions (ReduceSum, ArgMax, GlobalAveragePool, ...) store one
value per row; normalizations (Softmax, LayerNorm, ...) make statistic passes and then a write
pass over the row. When a whole row fits in one tile the kernel is *persistent*: the row is
loaded once and every pass reuses it.

Each anchor op is described by a ``RowSpec`` (in ``row_specs``): which axes it reduces, the
statistic passes it needs and how the output is formed from the statistics, so new
reductions are table entries. Accumulators are float32 for float32 and half inputs, float64
for float64, int64 for integers.
"""

from __future__ import annotations

from typing import Sequence

from cortado.ir import DType, Node, Value
from cortado.ir.dims import Dim, prod
from cortado.kernel_groups import KernelGroup, Kind
from cortado.ops import Category, get_op

from .. import exprs
from .. import index as ix
from ..config import INTERPRETER_BLOCK, next_pow2, static_size
from ..writer import KernelSource, KernelWriter, elementwise_flops, tensor_bytes
from . import row_specs  # noqa: F401  (registers the specs)
from .base import AccumulatorTemplate
from .common import function_source, what
from .rows import _SPECS, NEG_INF, POS_INF, RowCtx, RowSpec, Stat, has_spec, row_spec  # noqa: F401

def acc_type(dtype: DType) -> str:
    if dtype is DType.FLOAT64:
        return "tl.float64"
    if dtype.is_float:
        return "tl.float32"
    return "tl.int64"


def _init(kind: str, acc: str) -> str:
    floats = "float" in acc
    if kind == "sum":
        return "0.0" if floats else "0"
    if kind == "prod":
        return "1.0" if floats else "1"
    big = {"tl.int64": 2**63 - 1, "tl.int32": 2**31 - 1}.get(acc, 2**63 - 1)
    if kind == "max":
        return NEG_INF if floats else str(-big - 1)
    return POS_INF if floats else str(big)


def _combine(kind: str, acc: str, a: str, t: str) -> str:
    nan = ", propagate_nan=tl.PropagateNan.ALL" if "float" in acc else ""
    return {"sum": f"{a} + {t}", "prod": f"{a} * {t}", "max": f"tl.maximum({a}, {t}{nan})",
            "min": f"tl.minimum({a}, {t}{nan})"}[kind]


def _reducer(kind: str, acc: str) -> str:
    """The prelude helper that reduces a [BR, BC] tile of ``kind`` to [BR, 1]."""
    if kind in ("max", "min") and "float" not in acc:
        return f"_row_i{kind}"
    return f"_row_{kind}"


def row_reduce(acc: str, helper: str) -> str:
    """Reduce a [BR, BC] tile over its columns -> [BR, 1].

    ``tl.sum``/``tl.max`` are ``@triton.jit`` library functions built when triton is imported,
    in whichever mode (compiled or interpreted) was active then; the prelude's ``_row_*``
    helpers use ``tl.reduce`` with combine functions defined in the generated module on GPUs
    and a halving tree under the interpreter (the ``TREE`` launch constant)."""
    return f"{helper}({acc}, TREE)"


def _configs(rows: Dim, R: Dim, persistent_limit: int) -> dict[str, dict]:
    r = max(static_size(R, 1024), 1)
    nrows = static_size(rows)
    ibc = min(next_pow2(r), INTERPRETER_BLOCK)
    ibr = max(1, min(next_pow2(nrows), INTERPRETER_BLOCK // ibc))
    cbc = min(next_pow2(r), persistent_limit)
    cbr = max(1, min(next_pow2(nrows), 2048 // cbc)) if cbc < 2048 else 1
    warps = 4 if cbc * cbr <= 2048 else 8
    return {"interpreter": {"BR": ibr, "BC": ibc, "TREE": 1, "num_warps": 4, "num_stages": 1},
            "cuda": {"BR": cbr, "BC": cbc, "TREE": 0, "num_warps": warps, "num_stages": 1}}


def generate(nodes: Sequence[Node], anchor: Node, outputs: Sequence[Value]) -> KernelSource:
    spec = _SPECS[anchor.op](anchor)
    x = spec.x
    real = tuple(x.shape)
    shape = tuple(spec.view) if spec.view is not None else real
    axes = tuple(sorted(spec.axes))
    kept = tuple(a for a in range(len(shape)) if a not in axes)
    R = prod(shape[a] for a in axes)
    ROWS = prod(shape[a] for a in kept)
    persistent = isinstance(R, int) and R <= 8192
    acc = acc_type(x.dtype)
    w = KernelWriter(nodes, tile="[BR, BC]", mask=None)
    w.helpers.update(spec.helpers)
    w.axes = {"rows": 0, "cols": 1}
    w.line("pid = tl.program_id(0)")
    w.line("rows = pid * BR + tl.arange(0, BR)[:, None]")
    w.line(f"row_mask = rows < {w.dim(ROWS, 'n_rows')}")
    rc = ix.unravel(ix.var("rows"), tuple(shape[a] for a in kept))
    Rtext = w.dim(R, "n_cols")

    def x_index(cols_var: str):
        cc = ix.unravel(ix.var(cols_var), tuple(shape[a] for a in axes))
        idx = [None] * len(shape)
        for j, a in enumerate(kept):
            idx[a] = rc[j]
        for j, a in enumerate(axes):
            idx[a] = cc[j]
        if spec.view is not None:
            return ix.unravel(ix.ravel(idx, shape), real)
        return tuple(idx)

    def load_x(cols_var: str) -> str:
        v = w.value_at(x, x_index(cols_var))
        cd = exprs.compute_dtype(x.dtype)
        return v if cd == acc else w.assign("x", f"{v}.to({acc})")

    stats: dict[str, str] = {"R": Rtext}
    cached_x = None
    if persistent:
        w.line("cols = tl.arange(0, BC)[None, :]")
        w.mask = w.guard(f"row_mask & (cols < {Rtext})")
        cached_x = load_x("cols")

    def fold(stat_pass, xv, accs, m):
        for st in stat_pass:
            t = w.assign("t", st.term(xv, stats))
            a = accs[st.name]
            w.line(f"{a} = tl.where({m}, {_combine(st.kind, st.dtype or acc, a, t)}, {a})")

    for stat_pass in spec.passes:
        accs = {}
        for st in stat_pass:
            dt = st.dtype or acc
            w.helpers.add(_reducer(st.kind, dt))
            accs[st.name] = w.assign("acc", f"tl.full([BR, BC], {_init(st.kind, dt)}, {dt})")
        if persistent:
            fold(stat_pass, cached_x, accs, w.mask)
        else:
            w.line(f"for c0 in range(0, {Rtext}, BC):")
            with w.scope():
                w.line("cols = c0 + tl.arange(0, BC)[None, :]")
                m = w.guard(f"row_mask & (cols < {Rtext})")
                saved, w.mask = w.mask, m
                fold(stat_pass, load_x("cols"), accs, m)
                w.mask = saved
        for st in stat_pass:
            stats[st.name] = w.assign(st.name + "_", row_reduce(accs[st.name], _reducer(st.kind, st.dtype or acc)))

    anchor_out = anchor.outputs[0]
    out_cd = exprs.compute_dtype(anchor_out.dtype)
    role = (lambda i: "out" if len(outputs) == 1 else f"out{i}")
    if spec.normalize:
        def write(xv):
            idx = x_index("cols")
            ctx = RowCtx(w, stats, xv, Rtext, idx, acc)
            ctx._shape = real
            y = spec.result(ctx)
            w.seed(anchor_out, idx, w.assign("y", y if acc == out_cd else f"({y}).to({out_cd})"))
            for i, out in enumerate(outputs):
                w.store(out, idx, w.value_at(out, idx), role=role(i))
        if persistent:
            write(cached_x)
        else:
            w.line(f"for c0 in range(0, {Rtext}, BC):")
            with w.scope():
                w.line("cols = c0 + tl.arange(0, BC)[None, :]")
                w.mask = w.guard(f"row_mask & (cols < {Rtext})")
                write(load_x("cols"))
    else:
        keepdims = anchor_out.type.rank == len(shape) and spec.view is None
        # With keepdims, index the row statistic exactly as a consumer broadcasting it back
        # over the input would (kept axes: the row's coordinates; reduced axes: 0), so
        # elementwise epilogues on the input's shape (x / rms) read it from the register.
        out_index = (tuple(rc[kept.index(a)] if a in kept else ix.const(0) for a in range(len(shape)))
                     if keepdims else ix.unravel(ix.var("rows"), anchor_out.shape))
        full_mask = w.mask
        w.mask = "row_mask"
        w.store_shape = "[BR, 1]"
        y = spec.result(RowCtx(w, stats, None, Rtext, None, acc))
        w.seed(anchor_out, out_index, w.assign("y", y if acc == out_cd else f"({y}).to({out_cd})"))
        wide = [o for o in outputs if keepdims and tuple(o.shape) == real and tuple(o.shape) != tuple(anchor_out.shape)]
        for i, out in enumerate(outputs):
            if out not in wide:
                w.store(out, out_index, w.value_at(out, out_index), role=role(i))
        if wide:
            # a write pass over the row for epilogues on the input's shape (RMS norm written
            # as x / sqrt(mean(x*x) + eps), a mean subtracted, ...)
            w.store_shape = "[BR, BC]"

            def write_wide():
                idx = x_index("cols")
                for out in wide:
                    w.store(out, idx, w.value_at(out, idx), role=role(outputs.index(out)))
            if persistent:
                w.mask = full_mask
                write_wide()
            else:
                w.line(f"for c0 in range(0, {Rtext}, BC):")
                with w.scope():
                    w.line("cols = c0 + tl.arange(0, BC)[None, :]")
                    w.mask = w.guard(f"row_mask & (cols < {Rtext})")
                    write_wide()

    moved = tensor_bytes(w.loads) + tensor_bytes(outputs)
    flops = x.type.numel * len(spec.passes) + elementwise_flops(nodes)
    src = function_source(w, ["BR", "BC", "TREE"], nodes, outputs, moved)
    return KernelSource(what(nodes), src, w.params, (f"cdiv({ROWS}, BR)",), _configs(ROWS, R, 8192),
                        list(nodes), list(w.loads), list(outputs), w.helpers, moved, flops, "reduction")


class ReductionTemplate(AccumulatorTemplate):
    """Row reductions and normalizations (anything with a ROW lowering), with elementwise
    prologues and epilogues. After a keepdims reduction, epilogues may also run over the
    reduction's input, reading the row statistic broadcast (x - mean(x))."""

    name = "reduction"

    def anchors(self, node: Node) -> bool:
        return get_op(node.op).category in (Category.REDUCTION, Category.NORMALIZATION)

    def epilogue_domain(self, group) -> tuple | None:
        if get_op(group.anchor.op).category is not Category.REDUCTION:
            return None
        x = group.anchor.inputs[0]
        if x is None or group.anchor.outputs[0].type.rank != x.type.rank:
            return None
        return tuple(x.shape)

    def generate(self, group: KernelGroup) -> KernelSource:
        return generate(group.nodes, group.anchor, group.outputs)


REDUCTION = Kind.register(ReductionTemplate())
