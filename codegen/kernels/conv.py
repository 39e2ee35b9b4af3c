"""Convolution as implicit GEMM, NC[D]HW, any spatial rank, groups, strides, pads, dilations.

Rows of the GEMM are output positions (batch x output pixels), columns are output channels of
one group, and the reduction runs over (input channel, kernel taps). The input tile is
gathered straight from the activation with bounds guards for padding — no im2col buffer —
and the weight tile is a contiguous row of the (C_out, C_in/group * taps) matrix.
"""

from __future__ import annotations

from typing import Sequence

from cortado.ir import Node, Value
from cortado.ir.dims import prod

from .. import index as ix
from ..writer import KernelSource, elementwise_flops, tensor_bytes, KernelWriter
from .common import function_source, what
from .gemm import acc_type, dot_configs, dot_operand, epilogue, tile_writer


def _accumulate(w: KernelWriter, conv: Node, acc: str, pos, co, M) -> int:
    """Emit the K loop of one convolution into accumulator ``acc``; returns its FLOPs."""
    a = conv.attrs
    x, wt = conv.inputs[0], conv.inputs[1]
    y = conv.outputs[0]
    sp = x.type.rank - 2
    cin_g, cout_g = wt.shape[1], wt.shape[0] // a.group
    out_sp = tuple(y.shape[2:])
    taps = tuple(a.kernel_shape)
    K = cin_g * prod(taps)
    n_i, o_sp = pos[0], pos[1:]
    Kt = w.dim(K, "K")
    w.line(f"{acc} = tl.full((BM, BN), 0.0, {acc_type(y)})")
    w.line(f"for k0 in range(0, {Kt}, BK):")
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
        a_guard = w.guard(f"(rm[:, None] < {w.dim(M, 'M')}) & (rk[None, :] < {Kt})", *conds)
        a_tile = dot_operand(w, x, (n_i, ci) + tuple(in_sp), a_guard)
        kw = ix.unravel(ix.var("rk[:, None]"), (cin_g,) + taps)      # [BK, 1] for the weight tile
        b_guard = w.guard(f"(rk[:, None] < {Kt}) & (rn[None, :] < {w.dim(cout_g, 'N')})")
        b_tile = dot_operand(w, wt, (co,) + kw, b_guard)
        w.line(f"{acc} = tl.dot({a_tile}, {b_tile}, {acc}, input_precision=PRECISION)")
    return 2 * M * wt.shape[0] * K


def generate(nodes: Sequence[Node], anchor: Node, outputs: Sequence[Value], *,
             extra: Sequence[Node] = ()) -> KernelSource:
    """``extra``: further convolutions with the same output shape whose results the epilogue
    combines with the anchor's (a residual block's projection shortcut): each accumulates its
    own tile in the same program, so neither result is stored before the sum."""
    a = anchor.attrs
    wt = anchor.inputs[1]
    y = anchor.outputs[0]
    nb = y.shape[0]
    cout = wt.shape[0]
    cout_g = cout // a.group
    out_sp = tuple(y.shape[2:])
    M = nb * prod(out_sp)
    K = wt.shape[1] * prod(a.kernel_shape)

    w = tile_writer(nodes, "pid_g")
    # output position coordinates, as [BM, 1] columns
    pos = ix.unravel(ix.var("rm[:, None]"), (nb,) + out_sp)
    co = ix.add(ix.mul(ix.var("pid_g"), ix.dim(cout_g)), ix.var("rn[None, :]"))
    out_index = (pos[0], co) + tuple(pos[1:])
    convs = [anchor, *extra]
    accs = ["acc"] + [f"acc_{i + 1}" for i in range(len(extra))]
    flops = sum(_accumulate(w, conv, acc, pos, co, M) for conv, acc in zip(convs, accs))

    w.mask = w.guard(f"(rm[:, None] < {w.dim(M, 'M')}) & (rn[None, :] < {w.dim(cout_g, 'N')})")
    results = []
    for conv, acc in zip(convs, accs):
        bias = conv.inputs[2] if len(conv.inputs) > 2 else None
        if bias is not None:
            acc = w.assign("acc", f"{acc} + {w.value_at(bias, (co,))}")
        results.append(acc)
    for conv, acc in zip(extra, results[1:]):
        w.seed(conv.outputs[0], out_index, acc)
    epilogue(w, y, out_index, results[0], outputs)

    moved = tensor_bytes(w.loads) + tensor_bytes(outputs)
    flops = flops + elementwise_flops(nodes)
    grid = (f"cdiv({M}, BM)", f"cdiv({cout_g}, BN)", f"{a.group}")
    src = function_source(w, ["BM", "BN", "BK", "PRECISION"], nodes, outputs, moved)
    return KernelSource(what(nodes), src, w.params, grid, dot_configs(M, cout_g, K, y.dtype.itemsize),
                        list(nodes), list(w.loads), list(outputs), w.helpers, moved, flops, "conv")
