"""Convolution as implicit GEMM, NC[D]HW, any spatial rank, groups, strides, pads, dilations.

Rows of the GEMM are output positions (batch x output pixels), columns are output channels of
one group, and the reduction runs over (input channel, kernel taps). The input tile is
gathered straight from the activation with bounds guards for padding — no im2col buffer —
and the weight tile is a contiguous row of the (C_out, C_in/group * taps) matrix.
"""

from __future__ import annotations

from typing import Sequence

from compiler.ir import Node, Value
from compiler.ir.dims import prod

from .. import index as ix
from ..writer import KernelSource, elementwise_flops, tensor_bytes, KernelWriter
from .common import function_source, what
from .gemm import dot_configs, dot_operand, epilogue


def generate(nodes: Sequence[Node], anchor: Node, outputs: Sequence[Value]) -> KernelSource:
    a = anchor.attrs
    x, wt = anchor.inputs[0], anchor.inputs[1]
    bias = anchor.inputs[2] if len(anchor.inputs) > 2 else None
    y = anchor.outputs[0]
    sp = x.type.rank - 2
    nb, cin = x.shape[0], x.shape[1]
    cout = wt.shape[0]
    cin_g, cout_g = wt.shape[1], cout // a.group
    out_sp = tuple(y.shape[2:])
    taps = tuple(a.kernel_shape)
    M = nb * prod(out_sp)
    K = cin_g * prod(taps)

    w = KernelWriter(nodes, tile="[BM, BN]", mask=None)
    w.axes = {"rm[:, None]": 0, "rn[None, :]": 1}
    w.line("pid_m = tl.program_id(0)")
    w.line("pid_n = tl.program_id(1)")
    w.line("pid_g = tl.program_id(2)")
    w.line("rm = pid_m * BM + tl.arange(0, BM)")
    w.line("rn = pid_n * BN + tl.arange(0, BN)")
    # output position coordinates, as [BM, 1] columns
    pos = ix.unravel(ix.var("rm[:, None]"), (nb,) + out_sp)
    n_i, o_sp = pos[0], pos[1:]
    co = ix.add(ix.mul(ix.var("pid_g"), ix.dim(cout_g)), ix.var("rn[None, :]"))
    w.line("acc = tl.full((BM, BN), 0.0, tl.float32)")
    w.line(f"for k0 in range(0, {w.dim(K, 'K')}, BK):")
    with w.scope():
        w.line("rk = k0 + tl.arange(0, BK)")
        kin = ix.unravel(ix.var("rk[None, :]"), (cin_g,) + taps)   # [1, BK] reduction coords
        ci = ix.add(ix.mul(ix.var("pid_g"), ix.dim(cin_g)), kin[0])
        in_sp, conds = [], []
        for i in range(sp):
            c = ix.add(ix.sub(ix.mul(o_sp[i], a.strides[i]), a.pads[i]), ix.mul(kin[1 + i], a.dilations[i]))
            in_sp.append(c)
            if a.pads[i] or a.pads[sp + i] or a.strides[i] * (out_sp[i] - 1) + (taps[i] - 1) * a.dilations[i] >= x.shape[2 + i]:
                conds.append(w.bound_check(c, x.shape[2 + i]))
        a_guard = w.guard(f"(rm[:, None] < {w.dim(M, 'M')}) & (rk[None, :] < {w.dim(K, 'K')})", *conds)
        a_tile = dot_operand(w, x, (n_i, ci) + tuple(in_sp), a_guard)
        kw = ix.unravel(ix.var("rk[:, None]"), (cin_g,) + taps)      # [BK, 1] for the weight tile
        w_index = (co,) + kw
        b_guard = w.guard(f"(rk[:, None] < {w.dim(K, 'K')}) & (rn[None, :] < {w.dim(cout_g, 'N')})")
        b_tile = dot_operand(w, wt, w_index, b_guard)
        w.line(f"acc = tl.dot({a_tile}, {b_tile}, acc, input_precision=PRECISION)")

    w.mask = w.guard(f"(rm[:, None] < {w.dim(M, 'M')}) & (rn[None, :] < {w.dim(cout_g, 'N')})")
    acc = "acc"
    if bias is not None:
        acc = w.assign("acc", f"acc + {w.value_at(bias, (co,))}")
    out_index = (n_i, co) + tuple(o_sp)
    epilogue(w, y, out_index, acc, outputs)

    moved = tensor_bytes(w.loads) + tensor_bytes(outputs)
    flops = 2 * M * cout * K + elementwise_flops(nodes)
    grid = (f"cdiv({M}, BM)", f"cdiv({cout_g}, BN)", f"{a.group}")
    src = function_source(w, ["BM", "BN", "BK", "PRECISION"], nodes, outputs, moved)
    return KernelSource(what(nodes), src, w.params, grid, dot_configs(M, cout_g, K, y.dtype.itemsize),
                        list(nodes), list(w.loads), list(outputs), w.helpers, moved, flops, "conv")
