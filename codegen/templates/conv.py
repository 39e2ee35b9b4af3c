"""Convolution as implicit GEMM, NC[D]HW, any spatial rank, groups, strides, pads, dilations.

Rows of the GEMM are output positions (batch x output pixels), columns are output channels of
one group, and the reduction runs over (input channel, kernel taps). The input tile is
gathered straight from the activation with bounds guards for padding — no im2col buffer —
and the weight tile is a contiguous row of the (C_out, C_in/group * taps) matrix.

Two loop forms: from 16 input channels per group (and an input read from memory, not a
fused prologue) the reduction is tap-major — taps outside, BK-channel chunks inside, the
window position and padding guard computed once per tap (``_tap_major``); otherwise one flat
loop over (channel, tap) that unravels its index every step (an RGB stem conv).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from cortado.ir import Node, Op, Value
from cortado.ir.dims import prod
from cortado.kernel_groups import KernelGroup, Kind, is_depthwise

from .. import index as ix
from ..writer import KernelSource, elementwise_flops, tensor_bytes, KernelWriter
from .base import MAX_PROLOGUE_NODES, AccumulatorTemplate
from .common import function_source, what
from .gemm import acc_type, dot_configs, dot_operand, epilogue, tile_writer


_TAP_NAMES = {1: ("kw",), 2: ("kh", "kw"), 3: ("kd", "kh", "kw")}


def _named_size(w: KernelWriter, d, name: str):
    """A size as its own kernel argument named by its meaning (C_in, KH), never merged with
    another size of equal value; 0 and 1 stay structural constants."""
    if isinstance(d, int) and d in (0, 1):
        return ix.const(d)
    return ix.var(w.dim(d, name))


def _parenthesized(product: str) -> str:
    """``KW * KH`` as a divisor must be ``(KW * KH)``: ``rk // KW * KH`` divides by KW only."""
    return f"({product})" if "*" in product else product


def _reduction_coords(w: KernelWriter, cin_g, taps: tuple) -> tuple:
    """The GEMM reduction index ``rk`` split into the input channel ``ci`` and the kernel taps
    ``kh``/``kw`` (``kd`` in 3-D), each a named line of the loop body; size-1 taps are 0.
    Without taps (a 1x1 conv) ``rk`` is the channel itself."""
    if prod(taps) == 1:
        return ix.unravel(ix.var("rk[None, :]"), (cin_g,) + taps)
    coords: list = [None] * len(taps)
    below = ""                                   # the product of the tap sizes inside this one
    for i in reversed(range(len(taps))):
        if taps[i] == 1:
            coords[i] = ix.const(0)
            continue
        name = _TAP_NAMES.get(len(taps), tuple(f"k{j}" for j in range(len(taps))))[i]
        size = w.dim(taps[i], name.upper())
        w.line(f"{name} = {f'(rk // {_parenthesized(below)})' if below else 'rk'} % {size}")
        coords[i] = ix.var(f"{name}[None, :]")
        below = f"{below} * {size}" if below else size
    if isinstance(cin_g, int) and cin_g == 1:
        ci = ix.const(0)
    else:
        w.line(f"ci = rk // {_parenthesized(below)}")
        ci = ix.var("ci[None, :]")
    return (ci, *coords)


TAP_MAJOR_MIN_CHANNELS = 16
"""Input channels per group from which a conv loops over taps, then channels (``_tap_major``)."""


def uses_tap_major(w: KernelWriter, conv: Node) -> bool:
    """Whether ``conv`` accumulates tap by tap: enough input channels per group to fill a BK
    chunk, and an input read straight from memory (a fused prologue computes its tile from
    the full index, as the flat form gives it)."""
    cin_g = conv.inputs[1].shape[1]
    return isinstance(cin_g, int) and cin_g >= TAP_MAJOR_MIN_CHANNELS and not w.is_inside(conv.inputs[0])


def _accumulate(w: KernelWriter, conv: Node, acc: str, pos, co, M) -> int:
    """Emit the K loop of one convolution into accumulator ``acc``; returns its FLOPs."""
    if uses_tap_major(w, conv):
        return _tap_major(w, conv, acc, pos, co, M)
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
        kin = _reduction_coords(w, cin_g, taps)                      # [1, BK] reduction coords
        ci = ix.add(ix.mul(ix.var("pid_g"), _named_size(w, cin_g, "C_in")), kin[0])
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


def _tap_major(w: KernelWriter, conv: Node, acc: str, pos, co, M) -> int:
    """The implicit GEMM of one convolution with its reduction split in two loops: kernel taps
    outside, input channels in BK chunks inside. What depends on the output row only (batch,
    output pixel, the rows' bounds) is computed once per kernel; the tap's input pixel and
    padding guard once per tap as [BM, 1] columns, and a pointer to the tap's first channel.
    A chunk step then adds a [1, BK] channel offset, ands a channel guard and loads: a few
    whole-tile operations per ``tl.dot`` where the flat (channel, tap) index needs a dozen
    div/mod/compare ones (what Triton's interpreter pays for per element, in numpy)."""
    a = conv.attrs
    x, wt = conv.inputs[0], conv.inputs[1]
    y = conv.outputs[0]
    sp = x.type.rank - 2
    cin_g = wt.shape[1]
    out_sp = tuple(y.shape[2:])
    taps = tuple(a.kernel_shape)
    n_i, o_sp = pos[0], pos[1:]
    zeros = (ix.const(0),) * sp
    cin = w.dim(cin_g, "C_in")
    xp = w.ptr(x, w.roles.get(id(x), "in"))
    wp = w.ptr(wt, w.roles.get(id(wt), "in"))
    for v in (x, wt):
        if v not in w.loads:
            w.loads.append(v)
    # rows: the first input channel of this group, and each output pixel's window corner
    x_row = w.idx(w.linear(x, (n_i, ix.mul(ix.var("pid_g"), ix.var(cin))) + zeros))
    corner = [ix.sub(ix.mul(o_sp[i], a.strides[i]), a.pads[i]) for i in range(sp)]
    for c in corner:
        if ix.variables(c):
            w.idx(c)
    row_ok = f"rm[:, None] < {w.dim(M, 'M')}"
    w_col = w.idx(w.linear(wt, (co, ix.const(0)) + zeros))                  # [1, BN]
    col_ok = f"rn[None, :] < {w.dim(wt.shape[0] // a.group, 'N')}"
    x_cstride = w.idx(w.linear(x, (ix.const(0), ix.const(1)) + zeros))
    w_cstride = w.idx(w.linear(wt, (ix.const(0), ix.const(1)) + zeros))
    other = "0.0" if x.dtype.is_float else "0"
    w.line(f"{acc} = tl.full((BM, BN), 0.0, {acc_type(y)})")

    def channel_loop(x_at: str, x_ok: str, w_at: str) -> None:
        w.line(f"for c0 in range(0, {cin}, BK):")
        with w.scope():
            w.line("rc = c0 + tl.arange(0, BK)")
            ga = w.assign("g", f"{x_ok} & (rc[None, :] < {cin})")
            xa = w.assign("x", f"tl.load({x_at} + rc[None, :] * {x_cstride}, mask={ga}, other={other})")
            gb = w.assign("g", f"(rc[:, None] < {cin}) & ({col_ok})")
            xb = w.assign("x", f"tl.load({w_at} + rc[:, None] * {w_cstride}, mask={gb}, other={other})")
            w.line(f"{acc} = tl.dot({xa}, {xb}, {acc}, input_precision=PRECISION)")

    def tap_pointers(kc) -> tuple[str, str, str]:
        """(x pointers [BM, 1], their guard, w pointers [1, BN]) of tap coordinates ``kc``."""
        in_sp, conds = [], []
        tile, w.tile = w.tile, "[BM, 1]"    # a bound over scalars only is widened to a column
        for i in range(sp):
            c = ix.add(corner[i], ix.mul(kc[i], a.dilations[i]))
            in_sp.append(c)
            if a.pads[i] or a.pads[sp + i] or a.strides[i] * (out_sp[i] - 1) + (taps[i] - 1) * a.dilations[i] >= x.shape[2 + i]:
                conds.append(w.bound_check(c, x.shape[2 + i]))
        w.tile = tile
        x_lin = ix.add(ix.var(x_row), w.linear(x, (ix.const(0), ix.const(0)) + tuple(in_sp)))
        x_off = w.idx(x_lin)
        if "rm[:, None]" not in ix.variables(x_lin):     # one output row: still a [BM, 1] column
            x_off = f"{x_off} + tl.full([BM, 1], 0, tl.int32)"
        x_at = w.assign("p", f"{xp} + {x_off}")
        x_ok = w.assign("g", w.and_masks(row_ok, *conds))
        w_off = w.linear(wt, (ix.const(0), ix.const(0)) + tuple(kc))
        w_at = w.assign("p", f"{wp} + {w.idx(ix.add(ix.var(w_col), w_off))}")
        return x_at, x_ok, w_at

    if prod(taps) == 1:
        channel_loop(*tap_pointers(zeros))
    else:
        with w.loop(w.dim(prod(taps), "TAPS"), "t") as t:
            kc = tuple(ix.const(0) if d == 1 else c for d, c in zip(taps, _tap_coords(w, t, taps)))
            channel_loop(*tap_pointers(kc))
    return 2 * M * wt.shape[0] * cin_g * prod(taps)


def _tap_coords(w: KernelWriter, t: str, taps: tuple) -> list:
    """The kernel tap coordinates (kd, kh, kw) of the scalar tap counter ``t``, named lines."""
    coords: list = [None] * len(taps)
    below = ""
    names = _TAP_NAMES.get(len(taps), tuple(f"k{j}" for j in range(len(taps))))
    for i in reversed(range(len(taps))):
        if taps[i] == 1:
            coords[i] = ix.const(0)
            continue
        size = w.dim(taps[i], names[i].upper())
        q = f"({t} // {_parenthesized(below)})" if below else t
        outer = all(taps[j] == 1 for j in range(i))
        w.line(f"{names[i]} = {q}" if outer else f"{names[i]} = {q} % {size}")
        w.scalars.add(names[i])
        coords[i] = ix.var(names[i])
        below = f"{below} * {size}" if below else size
    return coords


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
    w.name_roles(x=anchor.inputs[0], w=wt, bias=anchor.inputs[2] if len(anchor.inputs) > 2 else None)
    # output position coordinates, as [BM, 1] columns
    pos = ix.unravel(ix.var("rm[:, None]"), (nb,) + out_sp)
    co = ix.add(ix.mul(ix.var("pid_g"), _named_size(w, cout_g, "N")), ix.var("rn[None, :]"))
    out_index = (pos[0], co) + tuple(pos[1:])
    convs = [anchor, *extra]
    for conv in extra:      # a shortcut's operands: x1_ptr, w1_ptr, bias1_ptr
        w.name_roles(x=conv.inputs[0], w=conv.inputs[1], bias=conv.inputs[2] if len(conv.inputs) > 2 else None)
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
    # a tap-major anchor steps through its channels, not its whole reduction, BK at a time
    configs = dot_configs(M, cout_g, wt.shape[1] if uses_tap_major(w, anchor) else K, y.dtype.itemsize)
    return KernelSource(what(nodes), src, w.params, grid, configs,
                        list(nodes), list(w.loads), list(outputs), w.helpers, moved, flops, "conv")


@dataclass(frozen=True)
class ConvRoles:
    """``extra``: sibling convolutions accumulated in the same program (projection shortcuts)
    whose results the epilogue combines with the anchor's."""

    extra: tuple[Node, ...] = ()


class ConvTemplate(AccumulatorTemplate):
    """Conv (not depthwise: that is a window op) as implicit GEMM, with epilogues, operand
    prologues (not the bias) and sibling convs: a residual block's projection shortcut,
    read only by this conv's residual add, accumulates in the same kernel."""

    name = "conv"
    operand_inputs = 2
    prologue_limit = MAX_PROLOGUE_NODES
    takes_siblings = True

    def anchors(self, node: Node) -> bool:
        return node.op is Op.CONV and not is_depthwise(node)

    def sibling_refusal(self, fusion, group, sibling, result: Value) -> str | None:
        a1, a2 = group.anchor, sibling.anchor
        if result.producer is None or tuple(result.shape) != tuple(a1.outputs[0].shape):
            return "the shortcut's result is not the size of the main branch's"
        if a1.attrs.group != a2.attrs.group or a1.inputs[1].shape[0] != a2.inputs[1].shape[0]:
            return "the two convolutions tile their output channels differently"
        if any(tuple(n.outputs[0].shape) != tuple(result.shape) for n in sibling.nodes if n is not a2):
            return "the shortcut's epilogue changes shape"
        if fusion.is_inline(result.producer):
            return "the shortcut's result is read through a view"
        return None

    def roles(self, found=None, siblings: tuple[Node, ...] = ()) -> ConvRoles:
        return ConvRoles(tuple(siblings))

    def generate(self, group: KernelGroup) -> KernelSource:
        roles = group.roles or ConvRoles()
        return generate(group.nodes, group.anchor, group.outputs, extra=roles.extra)


CONV = Kind.register(ConvTemplate())
