"""Einsum, lowered to Transpose / Reshape / MatMul / ReduceSum (and Slice for diagonals).

The equation is parsed into per-operand label lists (``...`` becomes numbered labels,
right-aligned as numpy broadcasts them). Repeated labels inside one operand take the diagonal
(flatten the two axes and step by n+1). Operands are then contracted left to right: labels
no later term needs are summed away first, the remaining shared labels become MatMul's batch
(kept in the output) or reduction (not kept) axes, and a final Transpose orders the output.
"""

from __future__ import annotations

from ...ir import Op
from ...ir.dims import prod
from .context import UnsupportedHere
from .registry import onnx_op


def _parse_term(term: str, rank: int, n_ell: int) -> list[str]:
    if term.count("...") > 1:
        raise UnsupportedHere(f"term {term!r} has two ellipses")
    if "..." in term:
        head, tail = term.split("...")
        k = rank - len(head) - len(tail)
        if k < 0:
            raise UnsupportedHere(f"term {term!r} has more labels than its operand has axes ({rank})")
        ell = [f"...{i}" for i in range(n_ell - k, n_ell)]
        labels = list(head) + ell + list(tail)
    else:
        labels = list(term)
    if len(labels) != rank or not all(c.isalpha() or c.startswith("...") for c in labels):
        raise UnsupportedHere(f"term {term!r} does not match an operand of rank {rank}")
    return labels


def parse(equation: str, ranks: list[int]):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise UnsupportedHere(f"equation {equation!r} has {len(terms)} operands, the node {len(ranks)}")
    n_ell = max((r - len(t.replace("...", "")) for t, r in zip(terms, ranks) if "..." in t), default=0)
    labels = [_parse_term(t, r, n_ell) for t, r in zip(terms, ranks)]
    if arrow:
        out = _parse_term(rhs, len(rhs.replace("...", "")) + (n_ell if "..." in rhs else 0), n_ell)
    else:
        counts: dict[str, int] = {}
        for ls in labels:
            for c in ls:
                counts[c] = counts.get(c, 0) + 1
        ell = [f"...{i}" for i in range(n_ell)]
        out = ell + sorted(c for c, n in counts.items() if n == 1 and not c.startswith("..."))
    if len(set(out)) != len(out):
        raise UnsupportedHere(f"output labels of {equation!r} repeat")
    return labels, out


class _Term:
    def __init__(self, value, labels):
        self.value, self.labels = value, list(labels)

    def size(self, label):
        return self.value.shape[self.labels.index(label)]


def _transpose(ctx, t: _Term, order: list[str]) -> _Term:
    if order == t.labels:
        return t
    perm = tuple(t.labels.index(c) for c in order)
    return _Term(ctx.op(Op.TRANSPOSE, [t.value], perm=perm), order)


def _reshape(ctx, value, shape):
    shape = tuple(shape)
    return value if tuple(value.shape) == shape else ctx.op(Op.RESHAPE, [value], shape=shape)


def _transpose_axes(ctx, t: _Term, rest: list[str], i: int, j: int) -> _Term:
    perm = tuple(k for k in range(len(t.labels)) if k not in (i, j)) + (i, j)
    v = t.value if perm == tuple(range(len(perm))) else ctx.op(Op.TRANSPOSE, [t.value], perm=perm)
    return _Term(v, rest + [t.labels[i], t.labels[j]])


def _diagonals(ctx, t: _Term) -> _Term:
    while len(set(t.labels)) != len(t.labels):
        c = next(c for c in t.labels if t.labels.count(c) > 1)
        i, j = [k for k, x in enumerate(t.labels) if x == c][:2]
        n = t.value.shape[i]
        if not isinstance(n, int) or t.value.shape[j] != n:
            raise UnsupportedHere(f"diagonal of label {c!r} needs equal static sizes")
        rest = [x for k, x in enumerate(t.labels) if k not in (i, j)]
        moved = _transpose_axes(ctx, t, rest, i, j)
        lead = tuple(moved.value.shape[:-2])
        flat = _reshape(ctx, moved.value, lead + (n * n,))
        r = len(lead)
        diag = ctx.op(Op.SLICE, [flat], starts=(0,) * r + (0,), ends=tuple(lead) + (n * n,),
                      steps=(1,) * r + (n + 1,))
        t = _Term(diag, rest + [c])
    return t


def _sum_out(ctx, t: _Term, keep: set[str]) -> _Term:
    drop = [k for k, c in enumerate(t.labels) if c not in keep]
    if not drop:
        return t
    if len(drop) == len(t.labels):
        v = ctx.op(Op.REDUCE_SUM, [t.value], axes=tuple(drop), keepdims=0)
        return _Term(v, [])
    v = ctx.op(Op.REDUCE_SUM, [t.value], axes=tuple(drop), keepdims=0)
    return _Term(v, [c for c in t.labels if c in keep])


def _contract(ctx, a: _Term, b: _Term, keep: set[str]) -> _Term:
    a = _sum_out(ctx, a, keep | set(b.labels))
    b = _sum_out(ctx, b, keep | set(a.labels))
    batch = [c for c in a.labels if c in b.labels and c in keep]
    red = [c for c in a.labels if c in b.labels and c not in keep]
    fa = [c for c in a.labels if c not in b.labels]
    fb = [c for c in b.labels if c not in a.labels]
    for c in red:
        if a.size(c) != b.size(c):
            raise UnsupportedHere(f"label {c!r} has sizes {a.size(c)} and {b.size(c)}")
    a = _transpose(ctx, a, batch + fa + red)
    b = _transpose(ctx, b, batch + red + fb)
    ab = [a.size(c) for c in batch]
    bb = [b.size(c) for c in batch]
    ka = prod(a.size(c) for c in red)
    av = _reshape(ctx, a.value, ab + [prod(a.size(c) for c in fa), ka])
    bv = _reshape(ctx, b.value, bb + [ka, prod(b.size(c) for c in fb)])
    y = ctx.op(Op.MATMUL, [av, bv])
    out_batch = list(y.shape[:len(batch)])
    shape = out_batch + [a.size(c) for c in fa] + [b.size(c) for c in fb]
    return _Term(_reshape(ctx, y, shape), batch + fa + fb)


@onnx_op("Einsum")
def _einsum(ctx, node, inputs, attrs):
    xs = list(inputs)
    if any(v is None for v in xs) or not xs:
        raise UnsupportedHere("Einsum needs its operands")
    labels, out = parse(attrs["equation"], [v.type.rank for v in xs])
    terms = [_diagonals(ctx, _Term(v, ls)) for v, ls in zip(xs, labels)]
    acc = terms[0]
    for k in range(1, len(terms)):
        later = set(out).union(*(set(t.labels) for t in terms[k + 1:]))
        acc = _contract(ctx, acc, terms[k], later)
    acc = _sum_out(ctx, acc, set(out))
    missing = [c for c in out if c not in acc.labels]
    if missing:
        raise UnsupportedHere(f"output labels {missing} appear in no operand")
    if not acc.labels:
        return [acc.value if acc.value.type.rank == 0 else _reshape(ctx, acc.value, ())]
    acc = _transpose(ctx, acc, out)
    if acc.value is xs[0]:
        return [ctx.op(Op.IDENTITY, [acc.value])]
    return [acc.value]
