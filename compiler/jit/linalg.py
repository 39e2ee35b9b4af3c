"""Contractions: matmul / dot / inner / outer / tensordot / einsum, all as MatMul nodes.

Every contraction is brought to one form, ``(batch..., M, K) @ (batch..., K, N)``, with views
(Transpose + Reshape) around a MatMul: the GEMM template reads transposed operands through
strides, so the views cost no copies. ``einsum`` sums out letters that only one operand has,
then contracts operands pairwise from the left, keeping the letters the output (or a later
operand) still needs; repeated letters within one operand (diagonals, traces) are refused.
"""

from __future__ import annotations

import string
from typing import Sequence

import numpy as np

from ..ir import Op, Value
from ..ir.dims import prod
from .shapeops import norm_axis, ravel, reshape
from .symbolic import unify
from .trace import Trace
from .ufuncs import apply_ufunc, lift, operand_dtype

__all__ = ["matmul", "dot", "einsum", "tensordot"]


def _loop_dtype(t: Trace, *arrays):
    try:
        return np.matmul.resolve_dtypes(tuple(operand_dtype(a) for a in arrays) + (None,))[-1]
    except (TypeError, ValueError) as e:
        t.unsupported(f"no matmul loop for these operand types ({e})")


def _matmul_values(t: Trace, a: Value, b: Value) -> Value:
    if a.type.rank == 0 or b.type.rank == 0:
        t.shape_error("matmul: Input operand does not have enough dimensions")
    k1 = a.shape[-1]
    k2 = b.shape[-2] if b.type.rank >= 2 else b.shape[0]
    if unify(k1, k2, t.env) is None:
        t.shape_error(f"matmul: Input operand 1 has a mismatch in its core dimension 0 "
                      f"(size {k2} is different from {k1})")
    t.broadcast_shape(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    return t.apply(Op.MATMUL, [a, b])


def matmul(t: Trace, a, b, out=None, **kwargs):
    if out is not None or kwargs:
        t.unsupported("out= and other keywords of matmul are not traced")
    dt = _loop_dtype(t, a, b)
    return t.tracer(_matmul_values(t, lift(t, a, dt), lift(t, b, dt)))


def dot(t: Trace, a, b, out=None):
    if out is not None:
        t.unsupported("out= is not traced")
    ra, rb = np.ndim(a) if not hasattr(a, "ndim") else a.ndim, np.ndim(b) if not hasattr(b, "ndim") else b.ndim
    if ra == 0 or rb == 0:
        return apply_ufunc(t, np.multiply, (a, b))
    if rb <= 2:
        return matmul(t, a, b)
    return tensordot(t, a, b, axes=([-1], [-2]))


def vdot(t: Trace, a, b):
    return dot(t, ravel(t, a), ravel(t, b))


def inner(t: Trace, a, b):
    ra, rb = getattr(a, "ndim", np.ndim(a)), getattr(b, "ndim", np.ndim(b))
    if ra == 0 or rb == 0:
        return apply_ufunc(t, np.multiply, (a, b))
    return tensordot(t, a, b, axes=([-1], [-1]))


def outer(t: Trace, a, b, out=None):
    return apply_ufunc(t, np.multiply, (reshape(t, ravel(t, a), -1, 1), reshape(t, ravel(t, b), 1, -1)))


def tensordot(t: Trace, a, b, axes=2):
    dt = _loop_dtype(t, a, b)
    va, vb = lift(t, a, dt), lift(t, b, dt)
    ra, rb = va.type.rank, vb.type.rank
    if isinstance(axes, int):
        ax_a, ax_b = list(range(ra - axes, ra)), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
    ax_a = [norm_axis(t, x, ra) for x in ax_a]
    ax_b = [norm_axis(t, x, rb) for x in ax_b]
    if len(ax_a) != len(ax_b):
        t.shape_error("shape-mismatch for sum")
    letters = iter(string.ascii_letters)
    la, lb = [next(letters) for _ in range(ra)], [None] * rb
    for x, y in zip(ax_a, ax_b):
        lb[y] = la[x]
    lb = [c or next(letters) for c in lb]
    out = [c for i, c in enumerate(la) if i not in ax_a] + [c for i, c in enumerate(lb) if i not in ax_b]
    return t.tracer(_contract_all(t, [(va, la), (vb, lb)], out))


# -- einsum ----------------------------------------------------------------------------------------
def _parse(t: Trace, subscripts: str, ranks: Sequence[int]):
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        t.shape_error(f"{len(terms)} operand subscripts for {len(ranks)} operands")
    used = set(spec) - set(".,->")
    spare = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in used]
    n_ell = max((r - len(term.replace("...", "")) for term, r in zip(terms, ranks) if "..." in term), default=0)
    ell = spare[:n_ell]
    parsed = []
    for term, r in zip(terms, ranks):
        if "..." in term:
            k = r - len(term.replace("...", ""))
            term = term.replace("...", "".join(ell[n_ell - k:]))
        if len(term) != r or not all(c.isalpha() for c in term):
            t.shape_error(f"einstein sum subscripts {term!r} do not match an operand of rank {r}")
        if len(set(term)) != len(term):
            t.unsupported(f"repeated subscript in {term!r} (diagonals and traces) is not traced")
        parsed.append(list(term))
    if arrow:
        out = rhs.replace("...", "".join(ell))
        if not all(c.isalpha() for c in out) or len(set(out)) != len(out):
            t.shape_error(f"bad output subscripts {rhs!r}")
    else:
        counts: dict[str, int] = {}
        for term in parsed:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        out = "".join(ell) + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    for c in out:
        if not any(c in term for term in parsed):
            t.shape_error(f"output subscript {c!r} does not appear in the inputs")
    return parsed, list(out)


def einsum(t: Trace, subscripts, *operands, out=None, dtype=None, order="K", casting="safe", optimize=False):
    if out is not None:
        t.unsupported("out= is not traced")
    if not isinstance(subscripts, str):
        t.unsupported("the interleaved (operand, sublist) form of einsum is not traced; use a subscripts string")
    dt = np.dtype(dtype) if dtype is not None else np.result_type(*[operand_dtype(o) for o in operands])
    values = [lift(t, o, dt) for o in operands]
    terms, out_letters = _parse(t, subscripts, [v.type.rank for v in values])
    return t.tracer(_contract_all(t, list(zip(values, terms)), out_letters))


def _sum_out(t: Trace, v: Value, letters: list, needed: set) -> tuple[Value, list]:
    axes = tuple(i for i, c in enumerate(letters) if c not in needed)
    if not axes:
        return v, letters
    v = t.apply(Op.REDUCE_SUM, [v], axes=axes, keepdims=0)
    return v, [c for c in letters if c in needed]


def _contract_all(t: Trace, operands: list, out: list) -> Value:
    sizes: dict[str, object] = {}
    for v, letters in operands:
        for c, d in zip(letters, v.shape):
            if c in sizes:
                if unify(sizes[c], d, t.env) is None:
                    t.shape_error(f"size of label {c!r} differs between operands ({sizes[c]} vs {d})")
            else:
                sizes[c] = d
    v, letters = operands[0]
    for i in range(1, len(operands) + 1):
        later = set(out)
        for _, ls in operands[i:]:
            later |= set(ls)
        v, letters = _sum_out(t, v, letters, later)
        if i == len(operands):
            break
        w, wl = operands[i]
        keep = set(out)
        for _, ls in operands[i + 1:]:
            keep |= set(ls)
        w, wl = _sum_out(t, w, wl, keep | set(letters))
        v, letters = _pair(t, v, letters, w, wl, keep)
    return t.transpose(v, [letters.index(c) for c in out])


def _pair(t: Trace, a: Value, la: list, b: Value, lb: list, keep: set) -> tuple[Value, list]:
    """One contraction as (batch, M, K) @ (batch, K, N)."""
    batch = [c for c in la if c in lb and c in keep]
    contracted = [c for c in la if c in lb and c not in keep]
    a_free = [c for c in la if c not in lb]
    b_free = [c for c in lb if c not in la]
    size = dict(zip(la, a.shape)) | dict(zip(lb, b.shape))
    a2 = t.transpose(a, [la.index(c) for c in batch + a_free + contracted])
    b2 = t.transpose(b, [lb.index(c) for c in batch + contracted + b_free])
    bs = [size[c] for c in batch]
    m, k, n = prod(size[c] for c in a_free), prod(size[c] for c in contracted), prod(size[c] for c in b_free)
    y = _matmul_values(t, t.reshape(a2, bs + [m, k]), t.reshape(b2, bs + [k, n]))
    y = t.reshape(y, bs + [size[c] for c in a_free] + [size[c] for c in b_free])
    return y, batch + a_free + b_free
