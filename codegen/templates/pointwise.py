"""Pointwise kernels: any group of elementwise, view and window ops over one output domain.

One program handles BLOCK consecutive output elements; every group output has the domain's
shape and is stored at the same linear offset. Inputs are read through the index math of the
views between them and the outputs (see ``writer``), so a transpose or broadcast costs a
div/mod, not a copy.
"""

from __future__ import annotations

from typing import Sequence

from cortado.ir import Node, Value
from cortado.kernel_groups import KernelGroup, Kind, Template, is_depthwise
from cortado.ops import Category, get_op

from .. import config
from .. import index as ix
from ..writer import KernelSource, KernelWriter, elementwise_flops, tensor_bytes
from .common import function_source, what


def generate(nodes: Sequence[Node], outputs: Sequence[Value]) -> KernelSource:
    domain = outputs[0].shape
    for o in outputs:
        if tuple(o.shape) != tuple(domain):
            raise ValueError(f"pointwise group outputs differ in shape: {o.type} vs {outputs[0].type}")
    numel = outputs[0].type.numel
    w = KernelWriter(nodes, tile="[BLOCK]", mask="mask")
    w.line("pid = tl.program_id(0)")
    w.line("offs = pid * BLOCK + tl.arange(0, BLOCK)")
    w.line(f"mask = offs < {w.dim(numel, 'n')}")
    index = ix.unravel(ix.var("offs"), domain)
    for i, out in enumerate(outputs):
        val = w.value_at(out, index)
        w.store(out, index, val, role="out" if len(outputs) == 1 else f"out{i}")
    moved = tensor_bytes(w.loads) + tensor_bytes(outputs)
    src = function_source(w, ["BLOCK"], nodes, outputs, moved)
    return KernelSource(what(nodes), src, w.params, (f"cdiv({numel}, BLOCK)",), config.pointwise(numel),
                        list(nodes), list(w.loads), list(outputs), w.helpers, moved,
                        elementwise_flops(nodes), "pointwise")


class PointwiseTemplate(Template):
    """Elementwise, view and window ops (and depthwise convs, lowered as windows) over one
    output domain. Chains of them merge; accumulator templates absorb them as epilogues and
    prologues. Its groups have no anchor: the last node's output is the domain."""

    name = "pointwise"
    anchored = False
    chains = True
    absorbable = True
    reads_through_views = True

    def anchors(self, node: Node) -> bool:
        category = get_op(node.op).category
        return category in (Category.ELEMENTWISE, Category.VIEW, Category.WINDOW) or is_depthwise(node)

    def generate(self, group: KernelGroup) -> KernelSource:
        return generate(group.nodes, group.outputs)


POINTWISE = Kind.register(PointwiseTemplate())
