"""Views as index arithmetic: a consumer reads a view's input at a remapped index.

Nothing here moves data; each lowering maps the index of the view's output to the index of
its input (with a guard where some outputs come from another input or from padding).
"""

from __future__ import annotations

from compiler.ir import Op

from . import index as ix
from .writer import lowering


@lowering(Op.RESHAPE)
def _reshape(w, node, value, index, guard):
    src = node.inputs[0]
    linear = ix.ravel(index, value.shape)
    return w.value_at(src, ix.unravel(linear, src.shape), guard)


@lowering(Op.TRANSPOSE)
def _transpose(w, node, value, index, guard):
    src = node.inputs[0]
    at = [None] * len(index)
    for k, p in enumerate(node.attrs.perm):
        at[p] = index[k]
    return w.value_at(src, tuple(at), guard)


@lowering(Op.CONCAT)
def _concat(w, node, value, index, guard):
    axis = node.attrs.axis % value.type.rank
    pieces = []
    start = 0
    inputs = [v for v in node.inputs if v is not None]
    for k, src in enumerate(inputs):
        size = src.shape[axis]
        if size == 0:
            continue
        local = ix.sub(index[axis], ix.dim(start))
        at = tuple(local if a == axis else i for a, i in enumerate(index))
        last = k == len(inputs) - 1
        cond = None
        lo = start != 0
        hi = not last
        if lo or hi:
            cond = w.bound_check(local, size, lower=lo, upper=hi)
        g = w.guard(guard, cond)
        pieces.append((cond and g, w.value_at(src, at, g)))
        start = start + size
    expr = pieces[-1][1]
    for cond, val in reversed(pieces[:-1]):
        expr = f"tl.where({cond}, {val}, {expr})"
    return expr


@lowering(Op.CONSTANT_OF_SHAPE)
def _constant_of_shape(w, node, value, index, guard):
    return w.full(node.attrs.value, value.dtype)
