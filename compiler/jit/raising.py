"""Raise numpy idioms in a traced graph into the fused operators they spell out.

A numpy user writes softmax as five array operations; traced literally that is two
reductions and three elementwise ops — two kernels, since one reduction cannot feed another
inside a kernel. Recognized here and replaced by the one IR op that means the same, it becomes
one persistent row kernel (with the scale before it and the epilogue after it fused in):

    Softmax:     e = exp(x - max(x, a)),  e / sum(e, a)            => Softmax(x, axis=a)
                 (also without the max subtraction)
    LogSoftmax:  d = x - max(x, a),  d - log(sum(exp(d), a))       => LogSoftmax(x, axis=a)
                 (also x - (max + log(sum(exp(x - max)))))
    LayerNorm:   c = x - mean(x, A),  v = mean(c*c, A)             => LayerNormalization(x, g, b,
                 y = c / sqrt(v + eps)  [or c * (1/sqrt(v + eps))]      axis=A[0], epsilon=eps)
                 then optionally * g and + b                          A = trailing axes

Statistics may be taken with ``keepdims=True`` or re-expanded with ``[..., None]``. A match
needs every intermediate to be used only inside the pattern (else the intermediate must be
materialized anyway and the rewrite saves nothing). A local common-subexpression pass runs
first, since numpy code often spells ``x - m`` twice. All rewrites are exact algebra; the
only change is where rounding happens (the fused ops compute statistics in float32 or better).
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..ir import Graph, Node, Op, Value

__all__ = ["raise_idioms", "eliminate_common_subexpressions"]


def eliminate_common_subexpressions(graph: Graph) -> bool:
    """Merge nodes with the same op, attributes and inputs (all IR ops are pure)."""
    seen: dict[tuple, Node] = {}
    changed = False
    for node in graph.nodes:
        key = (node.op, node.attrs, tuple(id(v) for v in node.inputs))
        try:
            first = seen.setdefault(key, node)
        except TypeError:      # unhashable attributes: leave the node alone
            continue
        if first is not node:
            for a, b in zip(node.outputs, first.outputs):
                a.replace_all_uses_with(b)
            changed = True
    if changed:
        graph.remove_unused()
    return changed


def _registered(op: Op) -> bool:
    try:
        ops.get_op(op)
        return True
    except KeyError:
        return False


def _prod(v: Value | None, *op_names: Op) -> Node | None:
    if v is None or v.producer is None:
        return None
    return v.producer if v.producer.op in op_names else None


def _scalar(v: Value | None):
    if v is None or not v.is_constant or v.const.size != 1:
        return None
    return float(v.const.reshape(()))


def _row_stat(v: Value, op: Op):
    """(x, axes, nodes) when ``v`` is ``op(x)`` over ``axes`` kept as size-1 dims (keepdims, a
    reshape that puts them back, or a reduction of everything to a scalar)."""
    nodes = []
    r = _prod(v, Op.RESHAPE)
    if r is not None:
        nodes.append(r)
        v = r.inputs[0]
    n = _prod(v, op)
    if n is None:
        return None
    x, axes = n.inputs[0], tuple(n.attrs.axes)
    kept = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    if r is None and not n.attrs.keepdims and n.outputs[0].type.rank != 0:
        return None     # (a full reduction to a scalar broadcasts like the keepdims form)
    if r is not None and tuple(r.outputs[0].shape) != kept:
        return None
    return x, axes, nodes + [n]


def _private(graph: Graph, values, nodes) -> bool:
    """Every value is read only by ``nodes`` and is not a graph output."""
    inside = {id(n) for n in nodes}
    outs = {id(v) for v in graph.outputs}
    return all(id(v) not in outs and all(id(u) in inside for u in v.users) for v in values)


def _other(node: Node, v: Value) -> Value:
    a, b = node.inputs
    return b if a is v else a


def _replace(graph: Graph, last: Node, op: Op, inputs, **attrs) -> None:
    new = ops.apply(graph, op, inputs, before=last, name=op.value.lower(), **attrs)
    new.meta = dict(last.meta)
    last.outputs[0].replace_all_uses_with(new.outputs[0])


# -- softmax / log-softmax -----------------------------------------------------------------------
def _exp_of_shifted(e: Value):
    """(x, axis-or-None, nodes) for ``exp(x - max(x))`` (axis from the max) or ``exp(x)``."""
    ex = _prod(e, Op.EXP)
    if ex is None:
        return None
    d = ex.inputs[0]
    sub = _prod(d, Op.SUB)
    if sub is not None:
        stat = _row_stat(sub.inputs[1], Op.REDUCE_MAX)
        if stat is not None and stat[0] is sub.inputs[0] and len(stat[1]) == 1:
            return sub.inputs[0], stat[1][0], [ex, sub] + stat[2]
    return d, None, [ex]


def _softmax(graph: Graph, div: Node) -> bool:
    e, s = div.inputs
    stat = _row_stat(s, Op.REDUCE_SUM)
    if stat is None or stat[0] is not e or len(stat[1]) != 1:
        return False
    found = _exp_of_shifted(e)
    if found is None:
        return False
    x, axis, nodes = found
    if axis is not None and axis != stat[1][0] or tuple(x.shape) != tuple(div.outputs[0].shape):
        return False
    nodes = nodes + stat[2] + [div]
    if not _private(graph, [n.outputs[0] for n in nodes if n is not div], nodes):
        return False
    _replace(graph, div, Op.SOFTMAX, [x], axis=stat[1][0])
    return True


def _log_softmax(graph: Graph, sub: Node) -> bool:
    a, b = sub.inputs
    log = _prod(b, Op.LOG)
    extra = []
    if log is not None:                         # (x - m) - log(sum(exp(x - m)))
        shifted = _prod(a, Op.SUB)
        if shifted is None:
            return False
        x, m = shifted.inputs
        extra = [shifted]
    else:                                       # x - (m + log(sum(exp(x - m))))
        add = _prod(b, Op.ADD)
        if add is None:
            return False
        log = _prod(add.inputs[1], Op.LOG) or _prod(add.inputs[0], Op.LOG)
        if log is None:
            return False
        x, m = a, _other(add, log.outputs[0])
        extra = [add]
    stat = _row_stat(log.inputs[0], Op.REDUCE_SUM)
    if stat is None or len(stat[1]) != 1:
        return False
    found = _exp_of_shifted(stat[0])
    if found is None or found[0] is not x or found[1] != stat[1][0]:
        return False
    mx = _row_stat(m, Op.REDUCE_MAX)
    if mx is None or mx[0] is not x or tuple(x.shape) != tuple(sub.outputs[0].shape):
        return False
    nodes = extra + [log, sub] + found[2] + stat[2] + mx[2]
    if not _private(graph, [n.outputs[0] for n in nodes if n is not sub], nodes):
        return False
    _replace(graph, sub, Op.LOG_SOFTMAX, [x], axis=stat[1][0])
    return True


# -- layer norm ----------------------------------------------------------------------------------
def _inv_std(v: Value):
    """(var value, eps, nodes) for 1/sqrt(var + eps) spelled as a reciprocal, a division or a power."""
    nodes = []
    sq = None
    for kind in (Op.RECIPROCAL, Op.DIV):
        n = _prod(v, kind)
        if n is not None and (kind is Op.RECIPROCAL or _scalar(n.inputs[0]) == 1.0):
            sq = _prod(n.inputs[-1], Op.SQRT)
            nodes.append(n)
            break
    if sq is None:
        return None
    return _var_eps(sq.inputs[0], nodes + [sq])


def _var_eps(v: Value, nodes):
    add = _prod(v, Op.ADD)
    if add is None:
        return None
    for var, eps in (add.inputs, reversed(add.inputs)):
        e = _scalar(eps)
        if e is not None and e >= 0:
            return var, e, nodes + [add]
    return None


def _layer_norm(graph: Graph, last: Node) -> bool:
    if last.op is Op.DIV:
        c, den = last.inputs
        sq = _prod(den, Op.SQRT)
        found = _var_eps(sq.inputs[0], [sq]) if sq is not None else None
    else:
        found = None
        for c, inv in (last.inputs, tuple(reversed(last.inputs))):
            found = _inv_std(inv)
            if found is not None:
                break
    if found is None:
        return False
    var, eps, nodes = found
    sub = _prod(c, Op.SUB)
    if sub is None:
        return False
    x = sub.inputs[0]
    mean = _row_stat(sub.inputs[1], Op.REDUCE_MEAN)
    vstat = _row_stat(var, Op.REDUCE_MEAN)
    if mean is None or vstat is None or mean[0] is not x or vstat[1] != mean[1]:
        return False
    axes = mean[1]
    if axes != tuple(range(axes[0], x.type.rank)) or not x.dtype.is_float:
        return False
    sqn = _prod(vstat[0], Op.MUL, Op.POW)
    if sqn is None or not (sqn.op is Op.MUL and sqn.inputs[0] is c and sqn.inputs[1] is c
                           or sqn.op is Op.POW and sqn.inputs[0] is c and _scalar(sqn.inputs[1]) == 2.0):
        return False
    body = nodes + [last, sub, sqn] + mean[2] + vstat[2]
    if tuple(last.outputs[0].shape) != tuple(x.shape):
        return False
    if not _private(graph, [n.outputs[0] for n in body if n is not last], body):
        return False
    end, scale, bias = last, None, None
    norm_shape = tuple(x.shape[axes[0]:])
    users = last.outputs[0].users
    same = tuple(x.shape)       # an affine step that broadcasts x to a larger shape stays outside
    if len(users) == 1 and users[0].op is Op.MUL and not last.outputs[0].is_graph_output \
            and tuple(users[0].outputs[0].shape) == same:
        g = _other(users[0], last.outputs[0])
        if _affine_param(g, norm_shape, x) is not None:
            end, scale = users[0], _affine_param(g, norm_shape, x)
    users = end.outputs[0].users
    if len(users) == 1 and users[0].op is Op.ADD and not end.outputs[0].is_graph_output \
            and tuple(users[0].outputs[0].shape) == same:
        b = _other(users[0], end.outputs[0])
        if _affine_param(b, norm_shape, x) is not None:
            end, bias = users[0], _affine_param(b, norm_shape, x)
    if scale is None:
        scale = graph.add_constant(np.ones(norm_shape, dtype=x.dtype.numpy), name="ln_scale")
    else:
        scale = _squeeze_param(graph, scale, end, len(norm_shape))
    inputs = [x, scale] + ([_squeeze_param(graph, bias, end, len(norm_shape))] if bias is not None else [])
    _replace(graph, end, Op.LAYER_NORMALIZATION, inputs, axis=axes[0], epsilon=eps)
    return True


def _affine_param(v: Value, norm_shape: tuple, x: Value) -> Value | None:
    """``v`` when it broadcasts over the normalized axes only (a per-feature weight or bias)."""
    if v.dtype is not x.dtype:
        return None
    shape = list(v.shape)
    while len(shape) > len(norm_shape) and shape[0] == 1:
        shape.pop(0)
    if len(shape) > len(norm_shape):
        return None
    for d, n in zip(reversed(shape), reversed(norm_shape)):
        if not (d == 1 or d == n):
            return None
    return v


def _squeeze_param(graph: Graph, v: Value, before: Node, rank: int) -> Value:
    """``v`` without the leading 1s beyond the normalized ``rank`` (a parameter of the normalized
    rank is used as it is: no Reshape in front of the LayerNormalization)."""
    shape = list(v.shape)
    while shape and shape[0] == 1 and len(shape) > max(rank, 1):
        shape.pop(0)
    if tuple(shape) == tuple(v.shape):
        return v
    if v.is_constant:
        return graph.add_constant(v.const.reshape(shape), name="ln_param")
    return ops.apply(graph, Op.RESHAPE, [v], shape=tuple(shape), before=before).outputs[0]


def raise_idioms(graph: Graph) -> bool:
    """Rewrite every recognized idiom in place; True when the graph changed."""
    changed = eliminate_common_subexpressions(graph)
    rules = [(Op.DIV, _softmax, Op.SOFTMAX), (Op.SUB, _log_softmax, Op.LOG_SOFTMAX),
             (Op.DIV, _layer_norm, Op.LAYER_NORMALIZATION), (Op.MUL, _layer_norm, Op.LAYER_NORMALIZATION)]
    for node in graph.nodes:
        if node.graph is not graph:
            continue
        for op, rule, target in rules:
            if node.op is op and _registered(target) and rule(graph, node):
                changed = True
                graph.remove_unused()
                break
    return changed
