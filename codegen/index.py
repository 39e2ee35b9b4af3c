"""Index expressions for generated kernels: a tiny algebra that simplifies as it builds.

Kernels address memory through expressions over tile variables (``offs``, ``rm``, ``rk``) and
sizes. Views (reshape, transpose, broadcast, slice) are compositions of *ravel* and *unravel*
over these expressions. The one rule that makes fused code cheap is that unravelling a linear
index into a shape and ravelling it back gives the linear index again — so a chain of
reshapes and same-shape elementwise ops addresses memory with ``base + offs`` and no
div/mod at all, while a broadcast bias in NCHW costs one ``(offs // HW) % C``.

Expressions are immutable tuples, so equal expressions hash equal and the emitter computes
each one once per kernel.
"""

from __future__ import annotations

from typing import Sequence

from cortado.ir.dims import Dim, SymExpr

# Node forms:
#   ("const", int)   a literal of the kernel's structure (a conv stride, a pad, 0, 1)
#   ("size", Dim)    a size taken from a tensor shape (static or symbolic); kernels receive
#                    these as arguments, so one kernel serves every shape of the same structure
#   ("var", name)    a tile variable (offs, rm[:, None], a loop counter)
#   ("add", a, b)  ("mul", a, b)  ("floordiv", a, b)  ("mod", a, b)
#   ("coord", L, shape, k)   coordinate k of linear index L unravelled in row-major ``shape``
#   ("max", a, b)  ("min", a, b)
Expr = tuple


def const(v: int) -> Expr:
    return ("const", int(v))


def var(name: str) -> Expr:
    return ("var", name)


def dim(d: Dim) -> Expr:
    """A size from a shape: a kernel argument, except the structural 0 and 1."""
    if isinstance(d, int) and d in (0, 1):
        return const(d)
    return ("size", d)


def as_expr(x) -> Expr:
    """Expressions pass through; a plain int is a structural literal; a SymExpr is a size."""
    if isinstance(x, tuple) and x and isinstance(x[0], str):
        return x
    if isinstance(x, SymExpr):
        return dim(x)
    if isinstance(x, int):
        return const(x)
    raise TypeError(f"not an index expression: {x!r}")


def is_const(e: Expr, v: int | None = None) -> bool:
    return e[0] == "const" and (v is None or e[1] == v)


def add(a, b) -> Expr:
    a, b = as_expr(a), as_expr(b)
    if is_const(a, 0):
        return b
    if is_const(b, 0):
        return a
    if is_const(a) and is_const(b):
        return const(a[1] + b[1])
    if is_const(a):
        a, b = b, a
    return ("add", a, b)


def sub(a, b) -> Expr:
    b = as_expr(b)
    if is_const(b):
        return add(a, const(-b[1]))
    return add(a, mul(b, -1))


def mul(a, b) -> Expr:
    a, b = as_expr(a), as_expr(b)
    if is_const(a, 0) or is_const(b, 0):
        return const(0)
    if is_const(a, 1):
        return b
    if is_const(b, 1):
        return a
    if is_const(a) and is_const(b):
        return const(a[1] * b[1])
    if is_const(a):
        a, b = b, a
    return ("mul", a, b)


def floordiv(a, b) -> Expr:
    a, b = as_expr(a), as_expr(b)
    if is_const(b, 1) or is_const(a, 0):
        return a
    if is_const(a) and is_const(b):
        return const(a[1] // b[1])
    return ("floordiv", a, b)


def mod(a, b) -> Expr:
    a, b = as_expr(a), as_expr(b)
    if is_const(b, 1):
        return const(0)
    if is_const(a) and is_const(b):
        return const(a[1] % b[1])
    return ("mod", a, b)


def maximum(a, b) -> Expr:
    return ("max", as_expr(a), as_expr(b))


def minimum(a, b) -> Expr:
    return ("min", as_expr(a), as_expr(b))


def _size(d) -> Expr:
    return dim(d)


def strides_of(shape: Sequence[Dim]) -> list[Dim]:
    """Row-major (contiguous) strides of ``shape`` in elements."""
    out: list[Dim] = []
    acc: Dim = 1
    for d in reversed(shape):
        out.append(acc)
        acc = acc * d
    return out[::-1]


def unravel(linear, shape: Sequence[Dim]) -> tuple[Expr, ...]:
    """Coordinates of a linear index in a row-major shape (size-1 axes give 0)."""
    linear = as_expr(linear)
    shape = tuple(shape)
    return tuple(const(0) if d == 1 else ("coord", linear, shape, k) for k, d in enumerate(shape))


def _coord_value(e: Expr) -> Expr:
    """The plain div/mod form of a coord node."""
    _, linear, shape, k = e
    st = strides_of(shape)
    q = floordiv(linear, _size(st[k]))
    return q if k == 0 else mod(q, _size(shape[k]))


def ravel(coords: Sequence[Expr], shape: Sequence[Dim], strides: Sequence[Dim] | None = None) -> Expr:
    """Linear offset of ``coords`` in ``shape`` (contiguous unless ``strides`` given).

    Runs of coordinates that all unravel one linear index over exactly the matching run of
    axes collapse back to that index (times the run's innermost stride)."""
    shape = tuple(shape)
    strides = list(strides) if strides is not None else strides_of(shape)
    contiguous = strides == strides_of(shape)
    total: Expr = const(0)
    k = 0
    n = len(shape)
    while k < n:
        c = as_expr(coords[k])
        if contiguous and c[0] == "coord":
            _, linear, cshape, ck = c
            run = _matching_run(coords, shape, k, linear, cshape, ck)
            if run:
                total = add(total, mul(linear, _size(strides[k + run - 1])))
                k += run
                continue
        total = add(total, mul(c, _size(strides[k])))
        k += 1
    return total


def _matching_run(coords, shape, k, linear, cshape, ck) -> int:
    """Length of the run starting at axis k that is exactly unravel(linear, cshape) (all of it)."""
    if ck != 0:
        # a run must start at the coord's first axis; allow leading size-1 axes of cshape
        if any(cshape[j] != 1 for j in range(ck)):
            return 0
    m = len(cshape)
    start = ck
    length = m - start
    if k + length > len(shape):
        return 0
    for j in range(length):
        d = shape[k + j]
        if d != cshape[start + j]:
            return 0
        c = as_expr(coords[k + j])
        if d == 1:
            continue
        if c != ("coord", linear, cshape, start + j):
            return 0
    return length


def render(e: Expr, name_of) -> str:
    """Source text of ``e``; ``name_of(sub)`` returns a variable for sub-expressions already
    emitted (or None), and renders symbolic dims."""
    named = name_of(e)
    if named is not None:
        return named
    kind = e[0]
    if kind == "const":
        return str(e[1])
    if kind == "var":
        return e[1]
    if kind == "size":
        return name_of(("sizetext", e[1])) or str(e[1])
    if kind == "coord":
        return render(_coord_value(e), name_of)
    a = render(e[1], name_of)
    b = render(e[2], name_of)
    if kind == "add":
        if b.startswith("-"):
            return f"({a} - {b[1:]})"
        return f"({a} + {b})"
    if kind == "mul":
        return f"{a} * {b}" if _atomic(e[1]) and _atomic(e[2]) else f"({a}) * ({b})"
    if kind == "floordiv":
        return f"({a} // {b})"
    if kind == "mod":
        return f"({a} % {b})"
    if kind == "max":
        return f"tl.maximum({a}, {b})"
    if kind == "min":
        return f"tl.minimum({a}, {b})"
    raise ValueError(f"unknown index expression {e!r}")


def _atomic(e: Expr) -> bool:
    return e[0] in ("const", "var", "size", "coord", "floordiv", "mod")


def variables(e: Expr) -> set[str]:
    """Names of the tile variables an expression depends on."""
    if e[0] == "var":
        return {e[1]}
    if e[0] == "coord":
        return variables(e[1])
    out: set[str] = set()
    for c in children(e):
        out |= variables(c)
    return out


def children(e: Expr) -> list[Expr]:
    if e[0] in ("add", "mul", "floordiv", "mod", "max", "min"):
        return [e[1], e[2]]
    if e[0] == "coord":
        return [_coord_value(e)]
    return []
