"""Batch-norm and per-channel affine folding into the preceding Conv or Gemm.

    s = scale / sqrt(var + eps),  t = B - mean * s            (per output channel c)
    Conv(x, W, b) -> BN(scale, B, mean, var)  =>  Conv(x, W * s[c], b * s + t)
    Conv(x, W, b) -> Mul(k[c])                =>  Conv(x, W * k[c], b * k)
    Conv(x, W, b) -> Add(k[c])                =>  Conv(x, W, b + k)
    Gemm(A, B, C; alpha, beta) -> BN          =>  Gemm(A, B * s[col], beta*C*s + t; alpha, beta=1)
    Gemm -> Mul(k[col]) / Add(k)              =>  likewise (k may be any shape for Add that
                                                  does not grow the (M, N) result)
    BN(x) with constant parameters elsewhere  =>  x * s + t   (two constants of shape (C,1,..))

Checks: the Conv/Gemm result feeds only this node (and is no graph output); its weight and
bias are constants; the BN parameters or the Mul/Add operand are constants that vary along
the channel axis only and do not broadcast the result up. Folded weights are *new* constants
computed in float64 — a weight shared with another layer is never overwritten. Run DCE
afterwards to drop the weights that lost their last user.
"""

from __future__ import annotations

import numpy as np

from cortado.ir import Graph, Node, Op, Value
from cortado.ops import apply, make_attrs

from .rewrite import drop_constant, replace_result


def _bn_affine(node: Node) -> tuple[np.ndarray, np.ndarray] | str:
    """(s, t) in float64 for a BN node with constant parameters."""
    params = node.inputs[1:]
    if any(v is None or v.const is None for v in params):
        return "batch-norm parameters are not constant"
    scale, b, mean, var = (v.const.astype(np.float64) for v in params)
    s = scale / np.sqrt(var + node.attrs.epsilon)
    return s, b - mean * s


def _channel_vector(node: Node, c: Value, y: Value) -> np.ndarray | str:
    """The per-channel vector of constant ``c`` against ``y`` (channel axis 1), or a reason."""
    if c.const is None:
        return "the other operand is not constant"
    if c.type.rank > y.type.rank:
        return "the constant has more axes than the result"
    full = c.const.reshape((1,) * (y.type.rank - c.type.rank) + tuple(c.const.shape))
    for axis, d in enumerate(full.shape):
        if d != 1 and (axis != 1 or d != y.shape[1]):
            return f"the constant {tuple(c.shape)} is not per-channel for {y.type}"
    channels = y.shape[1]
    if not isinstance(channels, int):
        return "symbolic channel count"
    return np.broadcast_to(full.reshape(-1).astype(np.float64), (channels,))


def _foldable_producer(y: Value) -> Node | str:
    p = y.producer
    if p is None or p.op not in (Op.CONV, Op.GEMM):
        return "not the result of a Conv or Gemm"
    if len(y.uses) != 1 or y.is_graph_output:
        return "the Conv/Gemm result has other users"
    if p.inputs[1].const is None or (len(p.inputs) > 2 and p.inputs[2] is not None and p.inputs[2].const is None):
        return "the Conv/Gemm weights are not constant"
    return p


def _rewrite(graph: Graph, p: Node, scale: np.ndarray | None, shift: np.ndarray | None) -> None:
    """Make producer ``p`` compute ``p(x) * scale[c] + shift`` with new constants."""
    x, w = p.inputs[0], p.inputs[1]
    bias = p.inputs[2] if len(p.inputs) > 2 else None
    dtype = w.dtype.numpy
    w64 = w.const.astype(np.float64)
    b64 = None if bias is None else bias.const.astype(np.float64)
    if p.op is Op.CONV:
        if scale is not None:
            w64 = w64 * scale.reshape((-1,) + (1,) * (w64.ndim - 1))
            b64 = None if b64 is None else b64 * scale
        if shift is not None:
            b64 = shift if b64 is None else b64 + shift
        attrs = p.attrs
    else:
        a = p.attrs
        if scale is not None:
            w64 = w64 * (scale[:, None] if a.transB else scale[None, :])
        c64 = None if b64 is None else a.beta * b64
        if scale is not None and c64 is not None:
            c64 = c64 * scale
        if shift is not None:
            c64 = shift if c64 is None else c64 + shift
        b64 = c64
        attrs = make_attrs(Op.GEMM, alpha=a.alpha, beta=1.0, transA=a.transA, transB=a.transB)
    new_w = graph.add_constant(w64.astype(dtype), name=w.name + "_folded")
    new_b = None if b64 is None else graph.add_constant(np.asarray(b64).astype(dtype), name=p.name + "_bias")
    old = [v for v in p.inputs[1:] if v is not None]
    p.set_inputs([x, new_w, new_b])
    p.attrs = attrs
    for v in old:
        drop_constant(graph, v)


def _fold_bn(graph: Graph, node: Node, decompose: bool) -> bool:
    affine = _bn_affine(node)
    if isinstance(affine, str):
        return False
    s, t = affine
    y = node.inputs[0]
    p = _foldable_producer(y)
    if not isinstance(p, str):
        _rewrite(graph, p, s, t)
        replace_result(graph, node, p.output)
        return True
    if not decompose:
        return False
    dtype = y.dtype.numpy
    shape = (-1,) + (1,) * (y.type.rank - 2)
    sv = graph.add_constant(s.reshape(shape).astype(dtype), name=node.name + "_scale")
    tv = graph.add_constant(t.reshape(shape).astype(dtype), name=node.name + "_shift")
    mul = apply(graph, Op.MUL, [y, sv], before=node, name=node.name + "_mul")
    add = apply(graph, Op.ADD, [mul.output, tv], before=node, name=node.name + "_add")
    params = node.inputs[1:]
    replace_result(graph, node, add.output)
    for v in params:
        drop_constant(graph, v)
    return True


def _fold_affine(graph: Graph, node: Node) -> bool:
    a, b = node.inputs
    for y, c in ((a, b), (b, a)):
        p = _foldable_producer(y)
        if isinstance(p, str) or node.output.type != y.type:
            continue
        if node.op is Op.ADD and p.op is Op.GEMM:
            if c.const is None:    # any constant that keeps the (M, N) shape joins C
                continue
            vec = c.const.astype(np.float64)
        else:
            vec = _channel_vector(node, c, y)
            if isinstance(vec, str):
                continue
        if node.op is Op.MUL:
            _rewrite(graph, p, vec, None)
        else:
            _rewrite(graph, p, None, vec)
        replace_result(graph, node, p.output)
        drop_constant(graph, c)
        return True
    return False


def _sweep(graph: Graph, decompose: bool) -> bool:
    changed = False
    for node in graph.nodes:
        if node.graph is not graph:
            continue
        if node.op is Op.BATCH_NORMALIZATION:
            changed |= _fold_bn(graph, node, decompose)
        elif node.op in (Op.MUL, Op.ADD):
            changed |= _fold_affine(graph, node)
    return changed


def fold_batchnorm(graph: Graph, *, decompose: bool = True, max_sweeps: int = 8) -> bool:
    """Fold BN and per-channel Mul/Add into Conv/Gemm; with ``decompose``, turn every other
    constant-parameter BN into Mul + Add (so none survives into codegen). Sweeps until
    nothing changes: a fold can free a Conv result for the next BN or affine."""
    changed = False
    for _ in range(max_sweeps):
        if not _sweep(graph, decompose):
            break
        changed = True
    return changed
