"""Shape and Size: values known from the (symbolic) input shape, written by a tiny pointwise
kernel whose only arguments are the runtime sizes. Static shapes never get here: the
frontend folds them into constants."""

from __future__ import annotations

from cortado.ir import Op
from cortado.kernel_groups import Kind

from . import pointwise
from .base import OpTemplate


def generate(nodes, anchor, outputs):
    ks = pointwise.generate(nodes, outputs)
    ks.kind = "shape"
    return ks


class ShapeTemplate(OpTemplate):
    """Shape / Size of symbolic inputs: a tiny pointwise kernel over the runtime sizes."""

    name = "shape"
    generators = {Op.SHAPE: generate, Op.SIZE: generate}


SHAPE = Kind.register(ShapeTemplate())
