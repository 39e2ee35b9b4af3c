"""Shape and Size: values known from the (symbolic) input shape, written by a tiny pointwise
kernel whose only arguments are the runtime sizes. Static shapes never get here: the
frontend folds them into constants."""

from __future__ import annotations

from cortado.ir import Op

from ..generate import special
from . import pointwise


@special(Op.SHAPE, Op.SIZE)
def generate(nodes, anchor, outputs):
    ks = pointwise.generate(nodes, outputs)
    ks.kind = "shape"
    return ks
