"""Transpose sinking and cancellation.

A transpose is pushed below the op that reads it, towards the next transpose it can cancel
with, when that costs no extra transpose:

    f(Transpose(x, p))                  => Transpose(f(x), p)             f elementwise, unary
    g(Transpose(x, p), Transpose(y, p)) => Transpose(g(x, y), p)          (two transposes -> one)
    g(Transpose(x, p), c)               => Transpose(g(x, c'), p)         c constant, c' = c
                                           brought to full rank and permuted by p^-1 (a new
                                           constant: c may be shared)
    Softmax(Transpose(x, p), axis=a)    => Transpose(Softmax(x, axis=p[a]), p)
    Concat(Transpose(x_i, p)..., axis=a) => Transpose(Concat(x_i..., axis=p[a]), p)
    Transpose(Transpose(x, p), q)       => Transpose(x, p o q), or x when p o q = identity

Checks: the transpose has exactly one reader and is no graph output (sinking a shared one
would copy it); the op keeps the transposed shape (no operand broadcasts it up); other
operands are transposes with the same perm, constants, or single-element values of no
higher rank. BatchNormalization never moves (its parameters belong to axis 1). The number
of transposes never
grows, and neither do the bytes they move: a transpose does not sink below a widening Cast
or a Concat with constants (layout assignment's cost model agrees, so the two passes do not
undo each other). Needs nothing before it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cortado.ir import Graph, Node, Op, Value
from cortado.ir.dims import representative_sizes
from cortado.ops import Category, apply, get_op

from .rewrite import compose_perms, inverse_perm, nbytes_estimate, remove_if_dead, replace_result


def _single_reader(t: Node) -> Node | None:
    out = t.output
    users = out.users
    if out.is_graph_output or len(users) != 1:
        return None
    return users[0]


def _can_bring(v: Value, perm: tuple[int, ...]) -> bool:
    """Can the op read ``v`` in the untransposed frame (see ``_bring``)?"""
    p = v.producer
    rank = len(perm)
    if p is not None and p.op is Op.TRANSPOSE and tuple(p.attrs.perm) == perm:
        return True
    return v.type.rank <= rank and (v.const is not None or all(d == 1 for d in v.shape))


def _bring(graph: Graph, v: Value, perm: tuple[int, ...]) -> Value:
    p = v.producer
    rank = len(perm)
    if p is not None and p.op is Op.TRANSPOSE and tuple(p.attrs.perm) == perm:
        return p.inputs[0]
    if v.const is not None and v.type.rank and not all(d == 1 for d in v.shape):
        full = v.const.reshape((1,) * (rank - v.type.rank) + v.const.shape)
        return graph.add_constant(np.transpose(full, inverse_perm(perm)), name=v.name + "_t")
    return v     # a single element broadcasts the same way in either frame


def _new_attrs(user: Node, perm: tuple[int, ...]) -> dict | None:
    """The reader's attributes in the untransposed frame, or None if it cannot move."""
    rank = len(perm)
    fields = {f.name: getattr(user.attrs, f.name) for f in dataclasses.fields(user.attrs)}
    if user.op in (Op.SOFTMAX, Op.LOG_SOFTMAX, Op.CONCAT):
        fields["axis"] = perm[fields["axis"] % rank]
        return fields
    if get_op(user.op).category is Category.ELEMENTWISE and user.op is not Op.BATCH_NORMALIZATION:
        return fields
    return None


def _sink_into(graph: Graph, t: Node, user: Node) -> bool:
    perm = tuple(t.attrs.perm)
    x, y = t.inputs[0], t.output
    if user.op is Op.TRANSPOSE:
        combined = compose_perms(perm, user.attrs.perm)
        if combined == tuple(range(len(perm))):
            replace_result(graph, user, x)
        else:
            new = apply(graph, Op.TRANSPOSE, [x], perm=combined, before=user, name=user.name)
            replace_result(graph, user, new.output)
        remove_if_dead(graph, t)
        return True
    attrs = _new_attrs(user, perm)
    if attrs is None or (user.op is not Op.CONCAT and user.output.shape != y.shape):
        return False      # an operand broadcasts the result up: its transposed form differs
    others = [v for v in user.inputs if v is not None and v is not y]
    if user.op is Op.CONCAT and any(v.type.rank != len(perm) for v in others):
        return False
    if not all(_can_bring(v, perm) for v in others):
        return False
    freed = [v for v in others if v.producer is not None and v.producer.op is Op.TRANSPOSE
             and len(v.users) == 1 and not v.is_graph_output]
    sizes = representative_sizes(v.shape for v in graph.inputs)
    moved = nbytes_estimate(x, sizes) + sum(nbytes_estimate(v, sizes) for v in freed)
    if nbytes_estimate(user.output, sizes) > moved:
        return False      # the moved transpose would carry more bytes (a widening cast, constants)
    operands = [None if v is None else x if v is y else _bring(graph, v, perm) for v in user.inputs]
    new = apply(graph, user.op, operands, before=user, name=user.name, **attrs)
    back = apply(graph, Op.TRANSPOSE, [new.output], perm=perm, before=user, name=t.name)
    replaced = [v.producer for v in others]
    replace_result(graph, user, back.output)
    remove_if_dead(graph, t)
    for p in replaced:
        if p is not None and p.op is Op.TRANSPOSE:
            remove_if_dead(graph, p)
    return True


def sink_transposes(graph: Graph, *, max_steps: int | None = None) -> bool:
    """Sink every transpose as far as it goes (bounded by ``max_steps``, default 4 per node)."""
    budget = max_steps if max_steps is not None else 4 * len(graph) + 8
    changed = False
    progress = True
    while progress and budget > 0:
        progress = False
        for t in graph.nodes:
            if t.graph is not graph or t.op is not Op.TRANSPOSE:
                continue
            if tuple(t.attrs.perm) == tuple(range(len(t.attrs.perm))) and not t.output.is_graph_output:
                replace_result(graph, t, t.inputs[0])
                changed = progress = True
                continue
            user = _single_reader(t)
            if user is not None and budget > 0 and _sink_into(graph, t, user):
                budget -= 1
                changed = progress = True
    return changed
