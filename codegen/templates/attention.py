"""Fused attention: MatMul(Q, Kᵀ) -> scale / mask -> Softmax -> MatMul(·, V) in one kernel.

A program owns BM query rows of one batch entry (batch x heads, flattened) and walks the keys
in BN-wide blocks with the online softmax: a running row maximum ``m`` and normalizer ``l``
rescale the accumulator whenever a block raises the maximum, so the S x S score matrix never
exists in memory. Q, Kᵀ and V are read through the writer, so the reshapes and transposes
that split heads are index math; the elementwise ops between the first MatMul and the
Softmax (a 1/sqrt(d) scale, an additive mask of any broadcastable shape) are evaluated on each
score tile exactly as the graph states them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from cortado.ir import Node, Op, Value
from cortado.ir.dims import prod
from cortado.kernel_groups import KernelGroup, Kind

from .. import index as ix
from ..config import next_pow2, static_size
from ..writer import KernelSource, KernelWriter, broadcast_index, elementwise_flops, tensor_bytes
from .base import AccumulatorTemplate, is_elementwise
from .common import function_source, what
from .gemm import dot_operand, epilogue

def _configs(sq, sk, d) -> dict:
    bd = max(16, next_pow2(d))
    sqs, sks = static_size(sq, 128), static_size(sk, 128)
    return {
        # TREE: row maxima and sums as halving trees on the interpreter (see prelude._row_*)
        "interpreter": {"BM": min(max(16, next_pow2(sqs)), 256), "BN": min(max(16, next_pow2(sks)), 512),
                        "BD": bd, "TREE": 1, "num_warps": 4, "num_stages": 1, "PRECISION": "ieee"},
        "cuda": {"BM": 64 if sqs >= 64 else max(16, next_pow2(sqs)), "BN": 64 if bd <= 64 else 32, "BD": bd,
                 "TREE": 0, "num_warps": 4, "num_stages": 2, "PRECISION": "tf32"},
    }


def generate(nodes: Sequence[Node], anchor: Node, outputs: Sequence[Value], *, scores: Node,
             softmax: Node) -> KernelSource:
    """``scores`` is the first MatMul, ``softmax`` the Softmax, ``anchor`` the second MatMul."""
    q, kt = scores.inputs[0], scores.inputs[1]
    v = anchor.inputs[1]          # inputs[0] is the softmax: computed in the kernel, never read
    y = anchor.outputs[0]
    sq, d = q.shape[-2], q.shape[-1]
    sk, dv = v.shape[-2], v.shape[-1]
    batch = tuple(y.shape[:-2])
    nbatch = prod(batch)

    w = KernelWriter(nodes, tile="[BM, BN]", mask=None)
    w.name_roles(q=q, k=kt, v=v)
    w.axes = {"rm[:, None]": 0, "rd[None, :]": 1}
    w.store_shape = "[BM, BD]"
    w.line("pid_m = tl.program_id(0)")
    w.line("pid_b = tl.program_id(1)")
    w.line("rm = pid_m * BM + tl.arange(0, BM)")
    w.line("rd = tl.arange(0, BD)")
    bc = ix.unravel(ix.var("pid_b"), batch) if batch else ()
    SQ, SK, D, DV = w.dim(sq, "S_q"), w.dim(sk, "S_k"), w.dim(d, "D"), w.dim(dv, "D_v")
    m_rows, m_d, m_dv = f"rm[:, None] < {SQ}", f"rd[None, :] < {D}", f"rd[None, :] < {DV}"

    def at(value, rows, cols):
        lead = broadcast_index(bc, batch, value.shape[:-2]) if value.type.rank > 2 else ()
        return lead + (rows, cols)

    q_tile = dot_operand(w, q, at(q, ix.var("rm[:, None]"), ix.var("rd[None, :]")), w.guard(m_rows, m_d))
    w.line("m_i = tl.full([BM, 1], -float(\"inf\"), tl.float32)")
    w.line("l_i = tl.full([BM, 1], 0.0, tl.float32)")
    w.line("acc = tl.full((BM, BD), 0.0, tl.float32)")
    w.helpers.update({"_row_max", "_row_sum"})
    w.line(f"for n0 in range(0, {SK}, BN):")
    with w.scope():
        w.line("rn = n0 + tl.arange(0, BN)")
        k_tile = dot_operand(w, kt, at(kt, ix.var("rd[:, None]"), ix.var("rn[None, :]")),
                             w.guard(f"rd[:, None] < {D}", f"rn[None, :] < {SK}"))
        w.line(f"s = tl.dot({q_tile}, {k_tile}, input_precision=PRECISION)")
        score_index = at(scores.outputs[0], ix.var("rm[:, None]"), ix.var("rn[None, :]"))
        w.seed(scores.outputs[0], score_index, "s")
        saved, w.mask = w.mask, w.guard(m_rows, f"rn[None, :] < {SK}")
        x = w.value_at(softmax.inputs[0], score_index)
        w.mask = saved
        w.line(f"x = tl.where(rn[None, :] < {SK}, {x}, -float(\"inf\"))")
        w.line("m_new = tl.maximum(m_i, _row_max(x, TREE))")
        w.line("p = tl.exp(x - m_new)")
        w.line("alpha = tl.exp(m_i - m_new)")
        w.line("l_i = l_i * alpha + _row_sum(p, TREE)")
        w.line("acc = acc * alpha")
        v_tile = dot_operand(w, v, at(v, ix.var("rn[:, None]"), ix.var("rd[None, :]")),
                             w.guard(f"rn[:, None] < {SK}", m_dv))
        p_tile = "p" if v.dtype.itemsize == 4 else f"p.to({v.dtype.triton_lang})"
        w.line(f"acc = tl.dot({p_tile}, {v_tile}, acc, input_precision=PRECISION)")
        w.line("m_i = m_new")
        del w.seeds[id(scores.outputs[0])]
    w.mask = w.guard(m_rows, m_dv)
    out_index = at(y, ix.var("rm[:, None]"), ix.var("rd[None, :]"))
    # no keys at all (S_k bound to 0) leaves l_i = 0: the result is zeros, as the unfused
    # Softmax -> MatMul over an empty axis gives (any key makes l_i >= 1, or NaN when masked out)
    epilogue(w, y, out_index, w.assign("acc", "acc / tl.where(l_i == 0.0, 1.0, l_i)"), outputs)

    moved = tensor_bytes(w.loads) + tensor_bytes(outputs)
    flops = 2 * nbatch * sq * sk * (d + dv) + 5 * nbatch * sq * sk + elementwise_flops(nodes)
    src = function_source(w, ["BM", "BN", "BD", "TREE", "PRECISION"], nodes, outputs, moved)
    return KernelSource(what([scores, softmax, anchor]), src, w.params, (f"cdiv({sq}, BM)", f"{nbatch}"),
                        _configs(sq, sk, max(d, dv) if isinstance(dv, int) else d), list(nodes), list(w.loads),
                        list(outputs), w.helpers, moved, flops, "attention")


MAX_ATTENTION_HEAD_DIM = 256  # the fused attention kernel holds a full head row in registers


@dataclass(frozen=True)
class AttentionRoles:
    scores: Node      # the first MatMul, Q x Kt
    softmax: Node     # the Softmax over the last axis of the (scaled, masked) scores


class AttentionTemplate(AccumulatorTemplate):
    """MatMul(Q, Kt) -> elementwise (scale, mask) -> Softmax(last axis) -> MatMul(., V), one
    flash-style kernel: the score matrix is never stored. Rooted at the Softmax; the second
    MatMul is the anchor. Takes epilogues (the output projection's inputs are separate
    kernels), no prologues."""

    name = "attention"
    takes_prologues = False
    reads_through_views = False

    def pattern_root(self, node: Node) -> bool:
        return node.op is Op.SOFTMAX

    def match(self, fusion, sm: Node):
        found = self._pattern(fusion, sm)
        if found is None:
            return None
        mm1, chain, mm2 = found
        return [mm1, *chain, sm, mm2], mm2, AttentionRoles(mm1, sm)

    def _pattern(self, fusion, sm: Node):
        x = sm.inputs[0]
        if sm.attrs.axis % x.type.rank != x.type.rank - 1 or x.type.rank < 2:
            return None
        users = sm.outputs[0].users
        if len(users) != 1 or users[0].op is not Op.MATMUL or users[0].inputs[0] is not sm.outputs[0] \
                or fusion.is_output(sm.outputs[0]):
            return None
        mm2 = users[0]
        chain: list[Node] = []
        v = x
        while True:
            p = v.producer
            if p is None or fusion.is_inline(p) or len(v.users) != 1 or fusion.is_output(v):
                return None
            if p.op is Op.MATMUL:
                break
            if not is_elementwise(p) or tuple(p.outputs[0].shape) != tuple(x.shape):
                return None
            from_chain = [u for u in p.inputs if u is not None and u.producer is not None
                          and tuple(u.shape) == tuple(x.shape) and not fusion.is_inline(u.producer)
                          and (u.producer.op is Op.MATMUL or is_elementwise(u.producer))]
            if len(from_chain) != 1:
                return None
            chain.append(p)
            v = from_chain[0]
        mm1 = p
        q, v_in = mm1.inputs[0], mm2.inputs[1]
        if q.type.rank < 2 or v_in.type.rank < 2 or mm1.inputs[1].type.rank < 2:
            return None
        d, dv = q.shape[-1], v_in.shape[-1]
        if not (isinstance(d, int) and isinstance(dv, int) and d <= MAX_ATTENTION_HEAD_DIM
                and dv <= MAX_ATTENTION_HEAD_DIM):
            fusion.refuse(sm, f"head dims {d}/{dv} exceed {MAX_ATTENTION_HEAD_DIM} for the fused attention kernel")
            return None
        if tuple(mm1.outputs[0].shape[:-2]) != tuple(mm2.outputs[0].shape[:-2]):
            return None
        return mm1, list(reversed(chain)), mm2

    def generate(self, group: KernelGroup) -> KernelSource:
        roles: AttentionRoles = group.roles
        return generate(group.nodes, group.anchor, group.outputs, scores=roles.scores, softmax=roles.softmax)


ATTENTION = Kind.register(AttentionTemplate())
