"""ConvTranspose as an implicit GEMM over output positions, NC[D]HW, any spatial rank.

Each output position o gathers from the input positions i with ``i * stride + k * dilation
- pad == o`` for some kernel tap k: the GEMM's rows are output positions (batch x pixels),
its columns the output channels of one group, and its reduction runs over (input channel of
the group, kernel tap). The input tile is loaded with a guard that the tap lands on an input
pixel (``o + pad - k * dilation`` divisible by the stride and in range), so no zero-stuffed
copy of the input is ever made. Weights are (C_in, C_out/group, k...).
"""

from __future__ import annotations

from typing import Sequence

from cortado.ir import Node, Op, Value
from cortado.ir.dims import prod
from cortado.kernel_groups import Kind

from .. import index as ix
from ..writer import KernelSource, elementwise_flops, tensor_bytes
from .base import OpTemplate
from .common import function_source, what
from .gemm import acc_type, dot_configs, dot_operand, epilogue, tile_writer


def generate(nodes: Sequence[Node], anchor: Node, outputs: Sequence[Value]) -> KernelSource:
    a = anchor.attrs
    x, wt = anchor.inputs[0], anchor.inputs[1]
    bias = anchor.inputs[2] if len(anchor.inputs) > 2 else None
    y = anchor.outputs[0]
    sp = x.type.rank - 2
    nb = x.shape[0]
    cin_g, cout_g = wt.shape[0] // a.group, wt.shape[1]
    out_sp = tuple(y.shape[2:])
    taps = tuple(a.kernel_shape)
    M = nb * prod(out_sp)
    K = cin_g * prod(taps)

    w = tile_writer(nodes, "pid_g")
    w.name_roles(x=x, w=wt, bias=bias)
    pos = ix.unravel(ix.var("rm[:, None]"), (nb,) + out_sp)
    n_i, o_sp = pos[0], pos[1:]
    co = ix.add(ix.mul(ix.var("pid_g"), cout_g), ix.var("rn[None, :]"))
    w.line(f"acc = tl.full((BM, BN), 0.0, {acc_type(y)})")
    w.line(f"for k0 in range(0, {K}, BK):")
    with w.scope():
        w.line("rk = k0 + tl.arange(0, BK)")
        kin = ix.unravel(ix.var("rk[None, :]"), (cin_g,) + taps)
        ci = ix.add(ix.mul(ix.var("pid_g"), cin_g), kin[0])
        in_sp, conds = [], []
        for i in range(sp):
            num = ix.sub(ix.add(o_sp[i], a.pads[i]), ix.mul(kin[1 + i], a.dilations[i]))
            t = w.idx(num)
            s = a.strides[i]
            size = w.dim(x.shape[2 + i])
            if s == 1:
                conds.append(f"({t} >= 0) & ({t} < {size})")
                in_sp.append(num)
            else:
                conds.append(f"({t} >= 0) & ({t} % {s} == 0) & ({t} // {s} < {size})")
                in_sp.append(ix.floordiv(num, s))
        a_guard = w.guard(f"(rm[:, None] < {w.dim(M)}) & (rk[None, :] < {K})", *conds)
        a_tile = dot_operand(w, x, (n_i, ci) + tuple(in_sp), a_guard)
        kw = ix.unravel(ix.var("rk[:, None]"), (cin_g,) + taps)
        w_index = (ix.add(ix.mul(ix.var("pid_g"), cin_g), kw[0]), ix.var("rn[None, :]")) + tuple(kw[1:])
        b_guard = w.guard(f"(rk[:, None] < {K}) & (rn[None, :] < {cout_g})")
        b_tile = dot_operand(w, wt, w_index, b_guard)
        w.line(f"acc = tl.dot({a_tile}, {b_tile}, acc, input_precision=PRECISION)")

    w.mask = w.guard(f"(rm[:, None] < {w.dim(M)}) & (rn[None, :] < {cout_g})")
    acc = "acc"
    if bias is not None:
        acc = w.assign("acc", f"acc + {w.value_at(bias, (co,))}")
    epilogue(w, y, (n_i, co) + tuple(o_sp), acc, outputs)

    moved = tensor_bytes(w.loads) + tensor_bytes(outputs)
    flops = 2 * M * cout_g * a.group * K + elementwise_flops(nodes)
    grid = (f"cdiv({M}, BM)", f"cdiv({cout_g}, BN)", f"{a.group}")
    src = function_source(w, ["BM", "BN", "BK", "PRECISION"], nodes, outputs, moved)
    return KernelSource(what(nodes), src, w.params, grid, dot_configs(M, cout_g, K, y.dtype.itemsize),
                        list(nodes), list(w.loads), list(outputs), w.helpers, moved, flops, "conv")


class ConvTransposeTemplate(OpTemplate):
    """ConvTranspose as an implicit GEMM over output positions (bias fused; no epilogues yet)."""

    name = "conv_transpose"
    generators = {Op.CONV_TRANSPOSE: generate}


CONV_TRANSPOSE = Kind.register(ConvTransposeTemplate())
