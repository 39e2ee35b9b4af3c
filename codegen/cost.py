"""What one kernel launch costs: bytes read and written through GPU memory, and FLOPs.

The byte model counts *distinct elements touched*, as if every element crossed HBM once and
caches served every repeat (re-reading a weight tile per output tile, the overlap of
neighbouring pooling windows):

- every stored output is written in full (``bytes_written``);
- every loaded buffer is read only where the kernel needs it (``bytes_read``). Demand starts
  at the group outputs (all of each) and flows backwards through the group's nodes, one
  coordinate set per axis:
  * an elementwise op needs its same-shaped inputs where its output is needed (a broadcast
    input — a bias, a scale — is counted in full: it is small);
  * a sliding window (Conv, MaxPool, AveragePool, LpPool, depthwise Conv) needs, per spatial
    axis, the input coordinates ``o*stride - pad + tap*dilation`` that fall inside the input
    for the output coordinates ``o`` it must produce. A 1x1 stride-2 convolution of an 8x8
    input touches 4 of 8 rows and 4 of 8 columns: a quarter of its input; a 3x3 stride-2 pad-1
    window touches all of it. Pooling keeps the channel demand; a convolution needs every
    input channel. Weights and biases count in full;
  * a Transpose permutes the per-axis demand; every other op (reshape, concat, reductions,
    GEMM operands, ops with their own kernels) needs its inputs in full.
  When several readers need one value, their demands are joined axis by axis, so the estimate
  is an upper bound of the elements read (exact when each value has one window reader).
  Symbolic axes (a batch ``N``) are always needed in full; byte counts stay polynomials in
  the symbols.
- FLOPs are the generator's count (2*M*N*K for GEMM and convolution templates, one per
  element per elementwise op, one per element and pass for reductions) plus the work of
  window ops inside pointwise groups: one op per tap per output element for pooling, two
  (multiply and add) for depthwise convolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from cortado.ir import Node, Op, Value
from cortado.ir.dims import Dim, prod
from cortado.ops import Category, get_op

from .writer import KernelSource, tensor_bytes

_WINDOWS = (Op.CONV, Op.MAX_POOL, Op.AVERAGE_POOL, Op.LP_POOL)

# One entry per axis: None when the whole axis is needed, else a boolean mask of the
# coordinates needed along it (only for axes of static size).
Demand = tuple


@dataclass
class Cost:
    bytes_read: Dim
    bytes_written: Dim
    flops: Dim
    reads: dict[str, Dim] = field(default_factory=dict)   # loaded value name -> bytes read

    @property
    def bytes(self) -> Dim:
        return self.bytes_read + self.bytes_written


def kernel_cost(ks: KernelSource) -> Cost:
    """The cost of one launch of a generated kernel (see the module docstring)."""
    demand = needed_elements(ks.nodes, ks.outputs)
    reads: dict[str, Dim] = {}
    total: Dim = 0
    for v in ks.inputs:
        b = demanded_bytes(v, demand.get(id(v)))
        reads[v.name] = b
        total = total + b
    return Cost(total, tensor_bytes(ks.outputs), ks.flops + window_flops(ks.nodes, ks), reads)


def needed_elements(nodes: Sequence[Node], outputs: Sequence[Value]) -> dict[int, Demand]:
    """Per value (by id) read or produced inside the group: the coordinates the kernel needs."""
    demand: dict[int, Demand] = {}
    for v in outputs:
        _join(demand, v, _full(v))
    for node in reversed(list(nodes)):
        outs = [demand.get(id(o)) for o in node.outputs]
        if all(d is None for d in outs):
            continue   # nothing needs this node (it is dead inside the group)
        out_d = outs[0] if outs[0] is not None else _full(node.outputs[0])
        for pos, v in enumerate(node.inputs):
            if v is None:
                continue
            d = _input_demand(node, pos, v, out_d)
            _join(demand, v, d)
    return demand


def _full(v: Value) -> Demand:
    return (None,) * v.type.rank


def _join(demand: dict[int, Demand], v: Value, d: Demand) -> None:
    old = demand.get(id(v))
    if old is None:
        demand[id(v)] = d
        return
    demand[id(v)] = tuple(None if a is None or b is None else (a | b) for a, b in zip(old, d))


def _input_demand(node: Node, pos: int, v: Value, out_d: Demand) -> Demand:
    out = node.outputs[0]
    cat = get_op(node.op).category
    if cat is Category.ELEMENTWISE:
        return out_d if tuple(v.shape) == tuple(out.shape) else _full(v)
    if node.op is Op.TRANSPOSE:
        d = [None] * v.type.rank
        for k, p in enumerate(node.attrs.perm):
            d[p] = out_d[k]
        return tuple(d)
    if node.op in _WINDOWS and pos == 0 and hasattr(node.attrs, "kernel_shape"):
        return _window_demand(node, v, out_d)
    return _full(v)


def _window_demand(node: Node, v: Value, out_d: Demand) -> Demand:
    a = node.attrs
    sp = len(a.kernel_shape)
    channel = out_d[1] if node.op is not Op.CONV else None
    d = [out_d[0], channel]
    for i in range(sp):
        d.append(touched(out_d[2 + i], node.outputs[0].shape[2 + i], v.shape[2 + i], a.kernel_shape[i],
                         a.strides[i], a.pads[i], a.dilations[i]))
    return tuple(d)


def touched(out_mask, out_len: Dim, in_len: Dim, taps: int, stride: int, pad: int, dilation: int):
    """The input coordinates a window reads along one axis (None: all of them)."""
    if not isinstance(in_len, int) or not isinstance(out_len, int):
        return None
    outs = np.arange(out_len) if out_mask is None else np.nonzero(out_mask)[0]
    coords = (outs[:, None] * stride - pad + np.arange(taps)[None, :] * dilation).reshape(-1)
    coords = coords[(coords >= 0) & (coords < in_len)]
    mask = np.zeros(in_len, dtype=bool)
    mask[coords] = True
    return None if mask.all() else mask


def demanded_bytes(v: Value, d: Demand | None) -> Dim:
    if d is None:
        return v.type.nbytes
    dims = [size if m is None else int(m.sum()) for size, m in zip(v.shape, d)]
    return prod(dims) * v.dtype.itemsize


def window_flops(nodes: Sequence[Node], ks: KernelSource) -> Dim:
    """Work of window ops lowered per output element (not counted by the generators)."""
    total: Dim = 0
    if ks.kind != "pointwise":
        return total      # templates and reductions count their anchor themselves
    for n in nodes:
        numel = n.outputs[0].type.numel
        if n.op in _WINDOWS:
            taps = prod(n.attrs.kernel_shape)
            total = total + (2 if n.op is Op.CONV else 1) * numel * taps
        elif n.op is Op.LRN:
            total = total + numel * (2 * n.attrs.size + 4)
    return total
