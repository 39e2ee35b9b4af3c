"""Kernels for ops that are sequential along one axis: CumSum (a scan) and TopK (k rounds of
select-the-best).

Both see the input as rows (every axis but the scanned one) by columns (the scanned axis). A
program owns BR rows. CumSum walks the row in BC-wide tiles, scanning each tile with
``tl.associative_scan`` and carrying the running total into the next. TopK keeps the whole row
in one tile and, k times, reduces it to its best value, finds the first column holding that
value among those not yet taken, writes both and marks the column taken — exact ties keep
the lower index first, as ONNX asks, with no sort.
"""

from __future__ import annotations

from typing import Sequence

from cortado.ir import Node, Op, Value
from cortado.ir.dims import prod
from cortado.kernel_groups import Kind

from .. import exprs
from .. import index as ix
from ..config import INTERPRETER_BLOCK, next_pow2, static_size
from ..writer import KernelSource, KernelWriter, tensor_bytes
from .base import OpTemplate
from .common import function_source, what
from .reduction import acc_type


def _rows(w: KernelWriter, shape, axis):
    kept = tuple(d for k, d in enumerate(shape) if k != axis)
    rows = prod(kept)
    w.line("pid = tl.program_id(0)")
    w.line("rows = pid * BR + tl.arange(0, BR)[:, None]")
    w.line(f"row_mask = rows < {w.dim(rows)}")
    rc = ix.unravel(ix.var("rows"), kept)

    def index(col):
        out = list(rc)
        out.insert(axis, col)
        return tuple(out)
    return rows, index


def _configs(rows, R, whole_row: bool):
    r = max(static_size(R, 1024), 1)
    n = static_size(rows)
    ibc = next_pow2(r) if whole_row else min(next_pow2(r), INTERPRETER_BLOCK)
    ibr = max(1, min(next_pow2(n), max(1, INTERPRETER_BLOCK // ibc)))
    cbc = next_pow2(r) if whole_row else min(next_pow2(r), 1024)
    cbr = max(1, min(next_pow2(n), max(1, 4096 // cbc)))
    return {"interpreter": {"BR": ibr, "BC": ibc, "TREE": 1, "num_warps": 4, "num_stages": 1},
            "cuda": {"BR": cbr, "BC": cbc, "TREE": 0, "num_warps": 4 if cbc * cbr <= 2048 else 8, "num_stages": 1}}


def generate_cumsum(nodes: Sequence[Node], anchor: Node, outputs: Sequence[Value]) -> KernelSource:
    """Running sums (products) along the axis. An exclusive product scans the input shifted
    by one column (loaded again at the neighbouring column), which needs no division."""
    a = anchor.attrs
    prod_scan = anchor.op is Op.CUM_PROD
    x, y = anchor.inputs[0], anchor.outputs[0]
    shape = tuple(x.shape)
    if not shape:
        raise NotImplementedError("a scan of a scalar")
    R = shape[a.axis]
    acc = acc_type(x.dtype)
    w = KernelWriter(nodes, tile="[BR, BC]", mask=None)
    w.axes = {"rows": 0, "cols": 1}
    scan, fold, op = ("_row_cumprod", "_row_prod", "*") if prod_scan else ("_row_cumsum", "_row_sum", "+")
    w.helpers.update({scan, fold})
    rows, index = _rows(w, shape, a.axis)
    Rt = w.dim(R)
    ident = ("1.0" if "float" in acc else "1") if prod_scan else ("0.0" if "float" in acc else "0")
    w.line(f"carry = tl.full([BR, 1], {ident}, {acc})")

    def load(col, m):
        v = w.value_at(x, index(col))
        return w.assign("x", f"tl.where({m}, {v}, {ident})" if exprs.compute_dtype(x.dtype) == acc
                        else f"tl.where({m}, {v}.to({acc}), {ident})")

    w.line(f"for c0 in range(0, {Rt}, BC):")
    with w.scope():
        w.line("cols = c0 + tl.arange(0, BC)[None, :]")
        w.mask = w.guard(f"row_mask & (cols < {Rt})")
        col = ix.var("cols")
        if a.reverse:
            col = ix.var(w.assign("i", f"{Rt} - 1 - cols"))
        at = index(col)
        v = load(col, w.mask)
        if a.exclusive and prod_scan:
            prev = ix.var(w.assign("i", f"{w.idx(col)} + 1" if a.reverse else f"{w.idx(col)} - 1"))
            saved = w.mask
            w.mask = w.guard(saved, f"({w.idx(prev)} >= 0) & ({w.idx(prev)} < {Rt})")
            shifted = load(prev, w.mask)
            w.mask = saved
            s = w.assign("acc", f"{scan}({shifted}, TREE) {op} carry")
        else:
            s = w.assign("acc", f"{scan}({v}, TREE) {op} carry")
            if a.exclusive:
                s = w.assign("acc", f"{s} - {v}")
        w.line(f"carry = carry {op} {fold}({v}, TREE)")
        cd = exprs.compute_dtype(y.dtype)
        w.seed(y, at, s if cd == acc else w.assign("acc", f"{s}.to({cd})"))
        for i, out in enumerate(outputs):
            w.store(out, at, w.value_at(out, at), role="out" if len(outputs) == 1 else f"out{i}")
    moved = tensor_bytes(w.loads) + tensor_bytes(outputs)
    src = function_source(w, ["BR", "BC", "TREE"], nodes, outputs, moved)
    return KernelSource(what(nodes), src, w.params, (f"cdiv({rows}, BR)",), _configs(rows, R, False),
                        list(nodes), list(w.loads), list(outputs), w.helpers, moved, x.type.numel, "scan")


def generate_topk(nodes: Sequence[Node], anchor: Node, outputs: Sequence[Value]) -> KernelSource:
    if len(nodes) != 1:
        raise NotImplementedError("TopK kernels take no fused neighbours")
    a = anchor.attrs
    x = anchor.inputs[0]
    values, indices = anchor.outputs
    shape = tuple(x.shape)
    R = shape[a.axis]
    if not isinstance(R, int):
        raise NotImplementedError("TopK along a symbolic axis")
    acc = acc_type(x.dtype)
    floats = "float" in acc
    worst = ('-float("inf")' if a.largest else 'float("inf")') if floats else \
        (str(-2**63) if a.largest else str(2**63 - 1))
    w = KernelWriter(nodes, tile="[BR, BC]", mask=None)
    w.axes = {"rows": 0, "cols": 1}
    combine = ("_row_max" if a.largest else "_row_min") if floats else \
        ("_row_imax" if a.largest else "_row_imin")
    w.helpers.update({combine, "_row_imin"})
    rows, index = _rows(w, shape, a.axis)
    w.line("cols = tl.arange(0, BC)[None, :]")
    w.mask = w.guard(f"row_mask & (cols < {R})")
    v = w.value_at(x, index(ix.var("cols")))
    if exprs.compute_dtype(x.dtype) != acc:
        v = w.assign("x", f"{v}.to({acc})")
    valid = w.mask
    w.line(f"taken = tl.broadcast_to(cols >= {R}, [BR, BC])")
    w.mask = "row_mask"
    w.store_shape = "[BR, 1]"
    with w.loop(a.k, "j") as j:
        w.line(f"cur = tl.where(taken, {worst}, {v})")
        w.line(f"best = {combine}(cur, TREE)")
        w.line(f"hit = ({v} == best) & (~taken) & {valid}")
        w.line(f"pick = _row_imin(tl.where(hit, cols, {2**31 - 1}), TREE)")
        w.line("taken = taken | (cols == pick)")
        at = index(ix.var(j))
        w.store(values, at, "best", role="values")
        w.store(indices, at, "pick.to(tl.int64)", role="indices")
    moved = tensor_bytes(w.loads) + tensor_bytes(outputs)
    src = function_source(w, ["BR", "BC", "TREE"], nodes, outputs, moved)
    return KernelSource(what(nodes), src, w.params, (f"cdiv({rows}, BR)",), _configs(rows, R, True),
                        list(nodes), list(w.loads), [values, indices], w.helpers, moved, x.type.numel * a.k, "scan")


class ScanTemplate(OpTemplate):
    """Ops sequential along one axis: CumSum / CumProd (a tiled scan) and TopK (k select rounds)."""

    name = "scan"
    generators = {Op.CUM_SUM: generate_cumsum, Op.CUM_PROD: generate_cumsum, Op.TOP_K: generate_topk}


SCAN = Kind.register(ScanTemplate())
