"""Scatter kernels: ScatterElements and ScatterND.

One program copies ``data`` into the output, then applies the updates in row-major order of
the updates, so duplicate indices behave as in the reference (the last write wins; reductions
see every update) on every target. ScatterElements updates a whole slab at a time — all
positions that differ off the scatter axis, which can never collide — and steps along the
axis; ScatterND steps through the index tuples and writes each tuple's slice as a vector.
``tl.debug_barrier()`` orders the steps between the threads of the program.

A single program is the price of that determinism: scatters in inference models are small
(KV-cache and mask updates); a large one is still correct, only not parallel.
"""

from __future__ import annotations

from typing import Sequence

from cortado.ir import Node, Op, Value
from cortado.ir.dims import prod
from cortado.kernel_groups import Kind

from .. import index as ix
from ..config import INTERPRETER_BLOCK, next_pow2, static_size
from ..writer import KernelSource, KernelWriter, tensor_bytes
from .base import OpTemplate
from .common import function_source, what


def _combine(reduction: str, old: str, new: str, floats: bool) -> str:
    nan = ", propagate_nan=tl.PropagateNan.ALL" if floats else ""
    return {"none": new, "add": f"{old} + {new}", "mul": f"{old} * {new}",
            "max": f"tl.maximum({old}, {new}{nan})", "min": f"tl.minimum({old}, {new}{nan})"}[reduction]


def _copy(w: KernelWriter, data: Value, out: Value):
    n = w.dim(data.type.numel)
    w.line(f"for c0 in range(0, {n}, BLOCK):")
    with w.scope():
        w.line("offs = c0 + tl.arange(0, BLOCK)")
        w.mask = w.guard(f"offs < {n}")
        at = ix.unravel(ix.var("offs"), data.shape)
        w.store(out, at, w.value_at(data, at))
    w.line("tl.debug_barrier()")


def _configs(work):
    n = static_size(work, INTERPRETER_BLOCK)
    return {"interpreter": {"BLOCK": min(next_pow2(n), INTERPRETER_BLOCK), "num_warps": 4, "num_stages": 1},
            "cuda": {"BLOCK": min(max(next_pow2(n), 128), 1024), "num_warps": 4, "num_stages": 1}}


def _finish(w, nodes, outputs, data, extra_work):
    moved = tensor_bytes(w.loads) + tensor_bytes(outputs)
    src = function_source(w, ["BLOCK"], nodes, outputs, moved)
    work = max(static_size(data.type.numel, INTERPRETER_BLOCK), static_size(extra_work, 1))
    return KernelSource(what(nodes), src, w.params, ("1",), _configs(work), list(nodes), list(w.loads),
                        list(outputs), w.helpers, moved, 0, "scatter")


def generate_scatter_elements(nodes: Sequence[Node], anchor: Node, outputs: Sequence[Value]) -> KernelSource:
    if len(nodes) != 1:
        raise NotImplementedError("scatter kernels take no fused neighbours")
    data, indices, updates = anchor.inputs
    out = anchor.outputs[0]
    axis, red = anchor.attrs.axis, anchor.attrs.reduction
    w = KernelWriter(nodes, tile="[BLOCK]", mask=None)
    _copy(w, data, out)
    ushape = tuple(updates.shape)
    slab = tuple(d for k, d in enumerate(ushape) if k != axis)
    lanes = prod(slab)
    w.scalars.add("j")
    w.line(f"for j in range({w.dim(ushape[axis])}):")
    with w.scope():
        w.line(f"for c0 in range(0, {w.dim(lanes)}, BLOCK):")
        with w.scope():
            w.line("offs = c0 + tl.arange(0, BLOCK)")
            w.mask = w.guard(f"offs < {w.dim(lanes)}")
            q = list(ix.unravel(ix.var("offs"), slab))
            q.insert(axis, ix.var("j"))
            q = tuple(q)
            raw = w.value_at(indices, q)
            d = w.dim(data.shape[axis])
            i = w.assign("i", f"tl.where({raw} < 0, {raw} + {d}, {raw})")
            g = w.guard(w.mask, f"({i} >= 0) & ({i} < {d})")
            p = q[:axis] + (ix.var(i),) + q[axis + 1:]
            new = w.value_at(updates, q)
            if red != "none":
                old = w.load(out, p, g, role="out")
                new = w.assign("x", _combine(red, old, new, out.dtype.is_float))
            w.store(out, p, new, mask=g)
        w.line("tl.debug_barrier()")
    return _finish(w, nodes, outputs, data, lanes)


def generate_scatter_nd(nodes: Sequence[Node], anchor: Node, outputs: Sequence[Value]) -> KernelSource:
    if len(nodes) != 1:
        raise NotImplementedError("scatter kernels take no fused neighbours")
    data, indices, updates = anchor.inputs
    out = anchor.outputs[0]
    red = anchor.attrs.reduction
    k = indices.shape[-1]
    w = KernelWriter(nodes, tile="[BLOCK]", mask=None)
    _copy(w, data, out)
    tuples = prod(indices.shape[:-1])
    slice_shape = tuple(data.shape[k:])
    size = prod(slice_shape)
    ip = w.ptr(indices, "idx")
    if indices not in w.loads:
        w.loads.append(indices)
    w.scalars.add("u")
    w.line(f"for u in range({w.dim(tuples)}):")
    with w.scope():
        coords = []
        for m in range(k):
            raw = w.assign("x", f"tl.load({ip} + u * {k} + {m})")
            d = w.dim(data.shape[m])
            i = w.assign("i", f"tl.where({raw} < 0, {raw} + {d}, {raw})")
            w.scalars.update((raw, i))
            coords.append(ix.var(i))
        w.line(f"for c0 in range(0, {w.dim(size)}, BLOCK):")
        with w.scope():
            w.line("offs = c0 + tl.arange(0, BLOCK)")
            w.mask = w.guard(f"offs < {w.dim(size)}")
            inner = ix.unravel(ix.var("offs"), slice_shape)
            p = tuple(coords) + tuple(inner)
            q = ix.unravel(ix.add(ix.mul(ix.var("u"), size), ix.var("offs")), updates.shape)
            new = w.value_at(updates, q)
            if red != "none":
                old = w.load(out, p, None, role="out")
                new = w.assign("x", _combine(red, old, new, out.dtype.is_float))
            w.store(out, p, new)
        w.line("tl.debug_barrier()")
    return _finish(w, nodes, outputs, data, size)


class ScatterTemplate(OpTemplate):
    """ScatterElements / ScatterND: copy the data, then the scattered writes (one program)."""

    name = "scatter"
    generators = {Op.SCATTER_ELEMENTS: generate_scatter_elements, Op.SCATTER_ND: generate_scatter_nd}


SCATTER = Kind.register(ScatterTemplate())
