"""GEMM template: MatMul (batched, numpy broadcasting, 1-D operands) and Gemm, with epilogues.

A program computes one BM x BN tile of one batch entry: it walks K in BK steps, loading A and
B tiles through the writer (so transposes are strides, not copies) and accumulating with
``tl.dot`` in float32. The epilogue — Gemm's alpha/beta*C, then any elementwise consumers in
the group (bias, activation, residual add) — runs on the accumulator before the one store.
"""

from __future__ import annotations

from typing import Sequence

from cortado.ir import Node, Op, Value
from cortado.ir.dims import prod
from cortado.kernel_groups import KernelGroup, Kind
from cortado.ops import Category, get_op

from .. import index as ix
from ..config import next_pow2, static_size
from ..writer import KernelSource, KernelWriter, broadcast_index, elementwise_flops, tensor_bytes
from .base import MAX_PROLOGUE_NODES, AccumulatorTemplate
from .common import function_source, what

M_IDX, N_IDX, K_IDX = ix.var("rm[:, None]"), ix.var("rn[None, :]"), ix.var("rk")


def tile_writer(nodes: Sequence[Node], third_axis: str) -> KernelWriter:
    """A writer for a [BM, BN] output tile: rows ``rm`` and columns ``rn`` of program
    (pid_m, pid_n), and ``third_axis`` (a batch or group index) from the grid's third dim."""
    w = KernelWriter(nodes, tile="[BM, BN]", mask=None)
    w.axes = {"rm[:, None]": 0, "rn[None, :]": 1}
    w.line("pid_m = tl.program_id(0)")
    w.line("pid_n = tl.program_id(1)")
    w.line(f"{third_axis} = tl.program_id(2)")
    w.line("rm = pid_m * BM + tl.arange(0, BM)")
    w.line("rn = pid_n * BN + tl.arange(0, BN)")
    return w


def dot_operand(w: KernelWriter, value: Value, index, guard: str) -> str:
    """A tile of ``value`` ready for ``tl.dot``: half types stay half for the tensor cores."""
    if w.is_inside(value):
        # a fused prologue: out-of-bounds lanes (padding, ragged edges) must be 0 after it;
        # a plain view of a load already is (the load was masked with the same guard)
        x = w.value_at(value, index, guard)
        # a one-element prologue is a scalar: the where gives it the tile's shape tl.dot needs
        if w.zero_outside.get(x, "") != guard or value.type.numel == 1:
            x = w.assign("x", f"tl.where({guard}, {x}, 0.0)")
        return f"{x}.to({value.dtype.triton_lang})" if value.dtype.itemsize == 2 else x
    x = w.load(value, index, guard, raw=True)
    if value.type.numel == 1:
        # a one-element operand loads as a scalar; the guard gives it the tile's shape (and
        # zeros where the tile hangs past the operand), as tl.dot needs
        x = f"tl.where({guard}, {x}, 0)"
    return w.assign("x", x)


def epilogue(w: KernelWriter, anchor: Value, out_index, acc: str, outputs: Sequence[Value]) -> None:
    """Seed the anchor's value, then compute and store every group output at ``out_index``.
    Values the epilogue reads over the whole output domain are named ``residual_ptr``, a
    vector along the output's last axis (a MatMul's bias add) ``bias_ptr``."""
    w.seed(anchor, out_index, acc)
    for n in w.nodes:
        for v in n.inputs:
            if v is None or w.is_inside(v):
                continue
            if tuple(v.shape) == tuple(anchor.shape):
                w.name_roles(residual=v)
            elif v.type.rank == 1 and anchor.type.rank >= 1 and tuple(v.shape) == tuple(anchor.shape[-1:]):
                w.name_roles(bias=v)
    for i, out in enumerate(outputs):
        val = w.value_at(out, out_index)
        w.store(out, out_index, val, role="out" if len(outputs) == 1 else f"out{i}")


def acc_type(y: Value) -> str:
    """float64 GEMMs accumulate in float64 (tl.dot needs the accumulator in the operands'
    type); everything else in float32."""
    return "tl.float64" if y.dtype.value == "float64" else "tl.float32"


def dot_configs(m, n, k, dtype_bytes: int) -> dict[str, dict]:
    ms, ns, ks = static_size(m), static_size(n, 64), static_size(k, 64)
    ibn = min(max(next_pow2(ns), 16), 512)
    ibm, ibk = _interpreter_tiles(ms, ks, ibn)
    interp = {"BM": ibm, "BN": ibn, "BK": ibk, "num_warps": 4, "num_stages": 1, "PRECISION": "ieee"}
    cuda = {"BM": 16 if ms <= 16 else 32 if ms <= 32 else 64 if ms <= 64 else 128,
            "BN": 32 if ns <= 32 else 64 if ns <= 64 else 128,
            "BK": 32 if ks <= 32 or dtype_bytes == 4 else 64, "num_warps": 4, "num_stages": 3,
            "PRECISION": "tf32"}
    if cuda["BM"] * cuda["BN"] >= 128 * 128:
        cuda["num_warps"] = 8
    return {"interpreter": interp, "cuda": cuda, "cuda_candidates": tune_candidates(ms, ns, ks, cuda)}


STEP_COST = 1 << 15
"""What one K-loop step costs Triton's interpreter besides its elements (the Python of a dozen
tile operations), in loaded elements: about 1.5 ms, the time of some 32k gathered elements."""


def _interpreter_tiles(m: int, k: int, bn: int) -> tuple[int, int]:
    """(BM, BK) for Triton's interpreter, which pays per step a fixed cost plus per element of
    the tiles it loads, padding included: the pair of powers of two with the least
    ``programs * steps * (BM * BK + BK * BN + STEP_COST)``. M = 3136 takes one 4096-row tile, K = 147
    three steps of 64 rather than one of 256. Tiles stay under Triton's 2**20-element limit on
    one tensor, the accumulator under 2**18."""
    best = None
    for bm in (1 << e for e in range(4, 13)):
        if bm > max(16, next_pow2(m)) or (bm > 16 and bm * bn > 1 << 18):
            continue
        for bk in (1 << e for e in range(4, 9)):
            if bk > max(16, next_pow2(k)) or bm * bk > 1 << 20:
                continue
            cost = -(-m // bm) * -(-k // bk) * (bm * bk + bk * bn + STEP_COST)
            if best is None or cost < best[0]:
                best = (cost, bm, bk)
    return best[1], best[2]


def tune_candidates(m: int, n: int, k: int, default: dict) -> list[dict]:
    """Configs O3 times on the GPU (the default first); tiles larger than the problem are skipped."""
    out = [default]
    for bm, bn, bk, warps, stages in [(64, 64, 32, 4, 3), (128, 64, 32, 4, 3), (64, 128, 32, 4, 3),
                                      (128, 128, 32, 8, 3), (128, 128, 64, 8, 3), (64, 64, 64, 4, 4),
                                      (32, 64, 32, 4, 4), (16, 64, 64, 4, 3), (128, 256, 64, 8, 3)]:
        if bm > max(16, 2 * m) or bn > max(32, 2 * n) or bk > max(32, 2 * k):
            continue
        cfg = dict(default, BM=bm, BN=bn, BK=bk, num_warps=warps, num_stages=stages)
        if cfg not in out:
            out.append(cfg)
    return out


def generate(nodes: Sequence[Node], anchor: Node, outputs: Sequence[Value]) -> KernelSource:
    a_val, b_val = anchor.inputs[0], anchor.inputs[1]
    y = anchor.outputs[0]
    is_gemm = anchor.op is Op.GEMM
    ta = bool(is_gemm and anchor.attrs.transA)
    tb = bool(is_gemm and anchor.attrs.transB)
    a_shape, b_shape = tuple(a_val.shape), tuple(b_val.shape)
    M = (a_shape[-1] if ta else a_shape[-2]) if len(a_shape) >= 2 else 1
    K = (a_shape[-2] if ta else a_shape[-1])
    N = (b_shape[-2] if tb else b_shape[-1]) if len(b_shape) >= 2 else 1
    batch = tuple(y.shape[: len(y.shape) - (len(a_shape) >= 2) - (len(b_shape) >= 2)])
    nbatch = prod(batch)

    w = tile_writer(nodes, "pid_b")
    if is_gemm:
        w.name_roles(x=a_val, w=b_val, bias=anchor.inputs[2] if len(anchor.inputs) > 2 else None)
    else:
        w.name_roles(a=a_val, b=b_val)
    bc = ix.unravel(ix.var("pid_b"), batch) if batch else ()

    def operand_index(shape, rows, cols, trans):
        lead = broadcast_index(bc, batch, shape[:-2]) if len(shape) > 2 else ()
        return lead + ((cols, rows) if trans else (rows, cols))

    # K-loop indexes: A tile is [BM, BK] (rows m, cols k); B tile is [BK, BN] (rows k, cols n)
    ka, kb = ix.var("rk[None, :]"), ix.var("rk[:, None]")
    w.line(f"acc = tl.full((BM, BN), 0.0, {acc_type(y)})")
    w.line(f"for k0 in range(0, {w.dim(K, 'K')}, BK):")
    with w.scope():
        w.line("rk = k0 + tl.arange(0, BK)")
        if len(a_shape) == 1:
            a_idx = (ka,)
            a_guard = w.guard(f"rk[None, :] < {w.dim(K, 'K')}")
        else:
            a_idx = operand_index(a_shape, M_IDX, ka, ta)
            a_guard = w.guard(f"(rm[:, None] < {w.dim(M, 'M')}) & (rk[None, :] < {w.dim(K, 'K')})")
        if len(b_shape) == 1:
            b_idx = (kb,)
            b_guard = w.guard(f"rk[:, None] < {w.dim(K, 'K')}")
        else:
            b_idx = operand_index(b_shape, kb, N_IDX, tb)
            b_guard = w.guard(f"(rk[:, None] < {w.dim(K, 'K')}) & (rn[None, :] < {w.dim(N, 'N')})")
        a_tile = dot_operand(w, a_val, a_idx, a_guard)
        b_tile = dot_operand(w, b_val, b_idx, b_guard)
        if len(a_shape) == 1:       # a vector operand: the same row for every m
            a_tile = w.assign("x", f"tl.broadcast_to({a_tile}, (BM, BK))")
        if len(b_shape) == 1:
            b_tile = w.assign("x", f"tl.broadcast_to({b_tile}, (BK, BN))")
        w.line(f"acc = tl.dot({a_tile}, {b_tile}, acc, input_precision=PRECISION)")

    w.mask = w.guard(f"(rm[:, None] < {w.dim(M, 'M')}) & (rn[None, :] < {w.dim(N, 'N')})")
    out_index = tuple(bc) + ((M_IDX,) if len(a_shape) >= 2 else ()) + ((N_IDX,) if len(b_shape) >= 2 else ())
    acc = "acc"
    if is_gemm:
        alpha, beta = anchor.attrs.alpha, anchor.attrs.beta
        if alpha != 1.0:
            acc = w.assign("acc", f"acc * {alpha!r}")
        c = anchor.inputs[2] if len(anchor.inputs) > 2 else None
        if c is not None and beta != 0.0:
            cv = w.value_at(c, broadcast_index((M_IDX, N_IDX), (M, N), c.shape))
            acc = w.assign("acc", f"{acc} + {cv}" if beta == 1.0 else f"{acc} + {beta!r} * {cv}")
    epilogue(w, y, out_index, acc, outputs)

    moved = tensor_bytes(w.loads) + tensor_bytes(outputs)
    flops = 2 * nbatch * M * N * K + elementwise_flops(nodes)
    grid = (f"cdiv({M}, BM)", f"cdiv({N}, BN)", f"{nbatch}")
    src = function_source(w, ["BM", "BN", "BK", "PRECISION"], nodes, outputs, moved)
    return KernelSource(what(nodes), src, w.params, grid, dot_configs(M, N, K, y.dtype.itemsize),
                        list(nodes), list(w.loads), list(outputs), w.helpers, moved, flops, "gemm")


class GemmTemplate(AccumulatorTemplate):
    """MatMul / Gemm as a tiled GEMM with epilogues (bias, activation, residual) and operand
    prologues; a prologue may not feed Gemm's bias (C), which is read after the K loop."""

    name = "gemm"
    operand_inputs = 2
    prologue_limit = MAX_PROLOGUE_NODES

    def anchors(self, node: Node) -> bool:
        return get_op(node.op).category is Category.CONTRACTION

    def generate(self, group: KernelGroup) -> KernelSource:
        return generate(group.nodes, group.anchor, group.outputs)


GEMM = Kind.register(GemmTemplate())
