"""Tensor dimensions: a plain ``int`` or a symbolic size such as a dynamic batch ``N``.

Shapes must be known for every value after import, yet a model may leave its batch size
open. A symbolic dim is a small polynomial over named sizes (``N``, ``3*N``, ``N*S``) with
floor-division and modulo kept as opaque atoms when they do not divide evenly. That is
enough for every shape rule of the supported ops (flatten, reshape with -1, conv output
sizes), keeps equality structural (``3*N == N*3``), and prints as a Python expression that
the runtime evaluates once it binds the symbols from the actual inputs.
"""

from __future__ import annotations

import math
import re
from typing import Iterable, Mapping, Sequence, Union

__all__ = ["Dim", "Sym", "SymExpr", "is_static", "prod", "dim_str", "sanitize_symbol", "compare", "at_least",
           "sign_of", "representative_sizes", "BATCH_SYMBOL_SIZE", "OTHER_SYMBOL_SIZE"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def sanitize_symbol(name: str) -> str:
    """Turn a model's dim name (``batch size``, ``unk__3``, ``0``) into an identifier."""
    cleaned = re.sub(r"\W", "_", name.strip()) or "dim"
    if not _IDENT.match(cleaned):
        cleaned = "d_" + cleaned
    return cleaned


class _Atom:
    """An indivisible factor: a named symbol or an opaque ``//`` / ``%`` of expressions."""

    __slots__ = ("kind", "args", "_key")

    def __init__(self, kind: str, args: tuple):
        self.kind = kind  # "sym" | "floordiv" | "mod"
        self.args = args
        if kind == "sym":
            self._key = args[0]
        else:
            self._key = f"{kind}({args[0]!s},{args[1]!s})"

    def __eq__(self, other):
        return isinstance(other, _Atom) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def __lt__(self, other):
        return self._key < other._key

    def evaluate(self, env: Mapping[str, int]) -> int:
        if self.kind == "sym":
            try:
                return int(env[self.args[0]])
            except KeyError:
                raise KeyError(f"symbolic dim {self.args[0]!r} is not bound") from None
        num = _evaluate(self.args[0], env)
        den = _evaluate(self.args[1], env)
        return num // den if self.kind == "floordiv" else num % den

    def render(self, namer) -> str:
        if self.kind == "sym":
            return namer(self.args[0])
        op = "//" if self.kind == "floordiv" else "%"
        return f"({_render(self.args[0], namer)} {op} {_render(self.args[1], namer)})"

    def symbols(self) -> set[str]:
        if self.kind == "sym":
            return {self.args[0]}
        return _symbols(self.args[0]) | _symbols(self.args[1])


# A monomial is a sorted tuple of (atom, power); the polynomial maps monomials to coefficients.
_Monomial = tuple


class SymExpr:
    """A polynomial with integer coefficients over symbolic atoms; immutable and hashable."""

    __slots__ = ("_terms", "_hash")

    def __init__(self, terms: Mapping[_Monomial, int]):
        self._terms = {m: c for m, c in terms.items() if c != 0}
        self._hash = hash(frozenset(self._terms.items()))

    # -- construction -------------------------------------------------------------------
    @staticmethod
    def symbol(name: str) -> "SymExpr":
        if not _IDENT.match(name):
            raise ValueError(f"symbolic dim name {name!r} is not an identifier; use sanitize_symbol")
        return SymExpr({((_Atom("sym", (name,)), 1),): 1})

    @staticmethod
    def _from_atom(atom: _Atom) -> "SymExpr":
        return SymExpr({((atom, 1),): 1})

    def _normalized(self) -> Dim:
        """An int when the polynomial is constant, else self."""
        if not self._terms:
            return 0
        if len(self._terms) == 1 and () in self._terms:
            return self._terms[()]
        return self

    # -- arithmetic ---------------------------------------------------------------------
    def __add__(self, other) -> Dim:
        other = _lift(other)
        if other is NotImplemented:
            return NotImplemented
        terms = dict(self._terms)
        for m, c in other._terms.items():
            terms[m] = terms.get(m, 0) + c
        return SymExpr(terms)._normalized()

    __radd__ = __add__

    def __neg__(self) -> Dim:
        return SymExpr({m: -c for m, c in self._terms.items()})._normalized()

    def __sub__(self, other) -> Dim:
        other = _lift(other)
        if other is NotImplemented:
            return NotImplemented
        return self + (-other)

    def __rsub__(self, other) -> Dim:
        return (-self) + other

    def __mul__(self, other) -> Dim:
        other = _lift(other)
        if other is NotImplemented:
            return NotImplemented
        terms: dict = {}
        for m1, c1 in self._terms.items():
            for m2, c2 in other._terms.items():
                m = _mono_mul(m1, m2)
                terms[m] = terms.get(m, 0) + c1 * c2
        return SymExpr(terms)._normalized()

    __rmul__ = __mul__

    def __floordiv__(self, other) -> Dim:
        return _divide(self, other, "floordiv")

    def __rfloordiv__(self, other) -> Dim:
        return _divide(_lift(other), self, "floordiv")

    def __mod__(self, other) -> Dim:
        return _divide(self, other, "mod")

    def __rmod__(self, other) -> Dim:
        return _divide(_lift(other), self, "mod")

    # -- comparison ---------------------------------------------------------------------
    def __eq__(self, other):
        if isinstance(other, int):
            return False  # a normalized SymExpr is never constant
        return isinstance(other, SymExpr) and self._terms == other._terms

    def __hash__(self):
        return self._hash

    def __bool__(self):
        return True

    # -- inspection ---------------------------------------------------------------------
    def evaluate(self, env: Mapping[str, int]) -> int:
        return _evaluate(self, env)

    def symbols(self) -> set[str]:
        return _symbols(self)

    def render(self, namer=lambda s: s) -> str:
        return _render(self, namer)

    def __str__(self):
        return _render(self, lambda s: s)

    def __repr__(self):
        return f"Sym({self})"


Dim = Union[int, SymExpr]


def Sym(name: str) -> SymExpr:
    """A named symbolic dimension."""
    return SymExpr.symbol(name)


def _lift(x) -> SymExpr:
    if isinstance(x, SymExpr):
        return x
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return SymExpr({(): int(x)})
    if hasattr(x, "__index__"):
        return SymExpr({(): int(x)})
    return NotImplemented


def _mono_mul(a: _Monomial, b: _Monomial) -> _Monomial:
    powers: dict = {}
    for atom, p in a + b:
        powers[atom] = powers.get(atom, 0) + p
    return tuple(sorted(powers.items()))


def _mono_div(a: _Monomial, b: _Monomial):
    """a / b as a monomial when b's atoms divide a's, else None."""
    powers = dict(a)
    for atom, p in b:
        if powers.get(atom, 0) < p:
            return None
        powers[atom] -= p
    return tuple(sorted((k, v) for k, v in powers.items() if v))


def _divide(num, den, kind: str) -> Dim:
    num, den = _lift(num), _lift(den)
    if num is NotImplemented or den is NotImplemented:
        return NotImplemented
    den_n = den._normalized()
    if isinstance(den_n, int):
        if den_n == 0:
            raise ZeroDivisionError("symbolic dim divided by zero")
        if den_n == 1:
            return 0 if kind == "mod" else num._normalized()
        if all(c % den_n == 0 for c in num._terms.values()):
            if kind == "mod":
                return 0
            return SymExpr({m: c // den_n for m, c in num._terms.items()})._normalized()
    elif len(den._terms) == 1:
        ((dm, dc),) = den._terms.items()
        quotient = {}
        for m, c in num._terms.items():
            q = _mono_div(m, dm)
            if q is None or c % dc:
                break
            quotient[q] = c // dc
        else:
            return 0 if kind == "mod" else SymExpr(quotient)._normalized()
    if num._normalized() == 0:
        return 0
    return SymExpr._from_atom(_Atom(kind, (num._normalized(), den_n)))


def _evaluate(x: Dim, env: Mapping[str, int]) -> int:
    if isinstance(x, int):
        return x
    total = 0
    for m, c in x._terms.items():
        term = c
        for atom, p in m:
            term *= atom.evaluate(env) ** p
        total += term
    return total


def _symbols(x: Dim) -> set[str]:
    if isinstance(x, int):
        return set()
    out: set[str] = set()
    for m in x._terms:
        for atom, _ in m:
            out |= atom.symbols()
    return out


def _render(x: Dim, namer) -> str:
    if isinstance(x, int):
        return str(x)
    parts = []
    for m, c in sorted(x._terms.items(), key=lambda mc: (len(mc[0]) == 0, str(mc[0]))):
        factors = []
        for atom, p in m:
            factors.extend([atom.render(namer)] * p)
        if not factors:
            parts.append(str(c))
            continue
        body = "*".join(factors)
        if c == 1:
            parts.append(body)
        elif c == -1:
            parts.append("-" + body)
        else:
            parts.append(f"{c}*{body}")
    text = " + ".join(parts).replace("+ -", "- ")
    return text if len(parts) == 1 else f"({text})"


def is_static(d: Dim) -> bool:
    return isinstance(d, int)


def prod(dims: Iterable[Dim]) -> Dim:
    out: Dim = 1
    for d in dims:
        out = out * d
    return out


def dim_str(d: Dim) -> str:
    return str(d)


def ceil_div(a: Dim, b: Dim) -> Dim:
    return (a + b - 1) // b


def static_or_none(d: Dim):
    return d if isinstance(d, int) else None


def gcd_with(d: Dim, k: int) -> int:
    """The largest divisor of ``k`` known to divide ``d`` (used for alignment hints)."""
    if isinstance(d, int):
        return math.gcd(d, k)
    g = k
    for c in d._terms.values():
        g = math.gcd(g, c)
    return g


def sign_of(d: Dim) -> int | None:
    """The sign of ``d`` (-1, 0 or 1) when it holds for every binding of its symbols, else None.

    Every symbol is a size, so at least 0 (an empty batch included), and so are the ``//`` and
    ``%`` atoms of sizes: a polynomial whose non-constant coefficients are all >= 0 is at least
    its constant term, and one whose coefficients are all <= 0 is at most it. That decides the
    comparisons exporters write on shape values (``N == -1`` is false, ``max(N, 0)`` is N)
    without guessing; ``N == 1`` stays undecided."""
    if isinstance(d, int):
        return (d > 0) - (d < 0)
    if not _atoms_nonneg(d):
        return None
    const = d._terms.get((), 0)
    coefs = [c for m, c in d._terms.items() if m != ()]
    if all(c >= 0 for c in coefs) and const > 0:
        return 1
    if all(c <= 0 for c in coefs) and const < 0:
        return -1
    return None


def compare(a: Dim, b: Dim) -> int | None:
    """-1, 0 or 1 as ``a`` is below, equal to or above ``b`` for every binding; None when it depends."""
    if isinstance(a, SymExpr) and isinstance(b, SymExpr) and a == b:
        return 0
    return sign_of(a - b)


def at_least(a: Dim, b: Dim) -> bool:
    """True when ``a >= b`` for every binding of the symbols (sizes, so each at least 0)."""
    diff = a - b
    if isinstance(diff, int):
        return diff >= 0
    return _atoms_nonneg(diff) and all(c >= 0 for c in diff._terms.values())


def _atoms_nonneg(d: "SymExpr") -> bool:
    """Every atom of ``d`` is at least 0 for every binding: a symbol (a size), or a ``//`` or
    ``%`` whose numerator is provably at least 0 and whose divisor is a positive int
    (``(H - 3) // 2`` is negative for a small H, so it is not)."""
    for m in d._terms:
        for atom, _ in m:
            if atom.kind == "sym":
                continue
            num, den = atom.args
            if not (isinstance(den, int) and den > 0 and at_least(num, 0)):
                return False
    return True


# The size a symbolic dim stands for where a choice must be made at compile time (block sizes
# in generated code, the byte estimates layout and transpose sinking compare, the inputs O3
# autotuning times with): a symbol that is only ever the leading dim of the graph inputs is a
# batch, taken at 1 (the latency case); any other symbol (a sequence length, an image side) at
# 64, a size where tiles pay. A choice made for these stays correct at every size: kernels take
# the real sizes as arguments and mask the edges.
BATCH_SYMBOL_SIZE = 1
OTHER_SYMBOL_SIZE = 64


def representative_sizes(input_shapes: Iterable[Sequence]) -> dict[str, int]:
    """Each symbol of the graph inputs' shapes (dims or names) -> its representative size."""
    leading: set[str] = set()
    other: set[str] = set()
    for shape in input_shapes:
        for axis, d in enumerate(shape):
            names = {d} if isinstance(d, str) else (set() if isinstance(d, int) else d.symbols())
            (leading if axis == 0 else other).update(names)
    return {s: BATCH_SYMBOL_SIZE if s not in other else OTHER_SYMBOL_SIZE for s in sorted(leading | other)}
