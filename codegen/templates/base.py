"""What the accumulator templates (conv, gemm, reduction, attention) share: the epilogue and
prologue rules, and the base of the templates that render one op family on their own.

An accumulator template computes a tile of its anchor's result in registers. It can

- run an **epilogue**: one elementwise consumer at a time, reading the result at the same
  index (bias, folded batch-norm, activation, residual add), so the tile is stored once;
- recompute a **prologue**: elementwise producers whose only reader it is, evaluated per
  loaded tile (a scale before a softmax, a batch-norm + ReLU before a conv), up to
  ``prologue_limit`` ops because the work repeats for every tile that loads them.

The rules return None to accept, or the reason a user reads in ``stats["why_not_fused"]``.
The fusion driver adds the cycle check after them.
"""

from __future__ import annotations

from typing import Any, Callable

from cortado.ir import Node, Op
from cortado.kernel_groups import Kind, KernelGroup, Template
from cortado.ops import Category, get_op

from ..writer import KernelSource

MAX_PROLOGUE_NODES = 8        # template operand prologues are recomputed per tile load


def is_elementwise(node: Node) -> bool:
    return get_op(node.op).category is Category.ELEMENTWISE


class AccumulatorTemplate(Template):
    takes_epilogues = True
    takes_prologues = True
    reads_through_views = True
    operand_inputs: int | None = None   # prologues may feed only the first N inputs (None: any)

    def epilogue_domain(self, group: Any) -> tuple | None:
        """A wider shape epilogues may run over (a keepdims reduction's input), or None."""
        return None

    def epilogue_refusal(self, fusion: Any, g: Any, c: Any) -> str | None:
        if c.kind is not Kind.POINTWISE or len(c.nodes) != 1:
            return f"{c.kind.value} kernel cannot be an epilogue of {g.anchor.name}"
        n = c.nodes[0]
        domain = tuple(g.domain_value.shape)
        shape = domain
        if not is_elementwise(n):
            return f"not elementwise: cannot run on {g.anchor.name}'s accumulator tile"
        wide = self.epilogue_domain(g)
        out_shape = tuple(n.outputs[0].shape)
        if out_shape != domain and out_shape != wide:
            return f"output shape differs from {g.anchor.name}'s ({n.outputs[0].type} vs {g.domain_value.type})"
        if wide is not None and out_shape == wide:
            shape = wide      # an epilogue over the reduction's input, reading the statistic broadcast
        inside = {id(x) for x in g.nodes}
        for v in n.inputs:
            if v is None or v.producer is None:
                continue
            if fusion.is_inline(v.producer) and fusion.reaches(v, inside):
                return f"reads {g.anchor.name}'s result through a view"
            if id(v.producer) in inside and tuple(v.shape) != shape and \
                    not (wide is not None and tuple(v.shape) == domain):
                return f"reads {g.anchor.name}'s group at another index (broadcast)"
        allowed = {domain, shape}
        for v in fusion.escaping(g.nodes, [n]):
            if tuple(v.shape) not in allowed:
                return f"{v.name} would leave the kernel with shape {v.type}, not the output domain"
        return None

    def prologue_refusal(self, fusion: Any, p: Any, g: Any) -> str | None:
        if p.kind is not Kind.POINTWISE:
            return f"{p.kind.value} kernel cannot be a prologue"
        if any(not is_elementwise(n) for n in p.nodes):
            return f"window or view ops are not recomputed inside {g.anchor.name}"
        if len(p.nodes) > self.prologue_limit:
            return f"too much work to recompute per tile of {g.anchor.name} ({len(p.nodes)} ops)"
        escaping = fusion.escaping(p.nodes)
        if escaping:
            if any(fusion.is_output(v) for v in escaping) or fusion.readers_of(p) != {g.id}:
                return f"its result is also read outside {g.anchor.name}'s kernel"
        if self.operand_inputs is not None:
            operands = {id(v) for v in g.anchor.inputs[:self.operand_inputs] if v is not None}
            inside = {id(n) for n in p.nodes}
            if any(id(v) not in operands and fusion.reaches(v, inside)
                   for v in g.anchor.inputs[self.operand_inputs:] if v is not None):
                return "feeds the bias, not an operand"
        return None


class OpTemplate(Template):
    """A kernel of its own for one op family (scan, scatter, shape, conv-transpose): no
    epilogues or prologues, and it cannot store into a placed Concat's slice. Subclasses map
    each op to its generator in ``generators``."""

    fills_concat_slices = False
    generators: dict[Op, Callable[[list, Node, list], KernelSource]] = {}

    def anchors(self, node: Node) -> bool:
        return node.op in self.generators

    def generate(self, group: KernelGroup) -> KernelSource:
        return self.generators[group.anchor.op](group.nodes, group.anchor, group.outputs)
