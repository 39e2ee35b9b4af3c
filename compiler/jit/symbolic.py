"""Symbolic leading dims under ``dynamic=True``, and the specialization that keeps them honest.

A dynamic trace starts with every array argument's axis 0 as its own symbol, each with the
size of this call as its *hint*. Whenever the trace needs more than the symbol can promise —
two symbols that must be equal (``x + y``), a symbol that must equal a static size (the inner
dim of ``x @ w`` when ``w`` is an argument), a symbol used as a Python int (``range(n)``,
``x.shape[0] > 4``) — it raises ``Specialize`` naming the symbols to merge or to make static,
and the jit traces again with that narrower spec. Each restart removes a symbol, so a function
is traced at most (number of array arguments + 1) times per new signature, and the symbols
that survive are exactly the dims the compiled kernels may take at any size. This is the
guard-and-retrace scheme of torch.compile, restricted to leading dims.
"""

from __future__ import annotations

import operator
from typing import Mapping, Sequence

from ..ir.dims import Dim, SymExpr

__all__ = ["Specialize", "SymDim", "broadcast_dims", "hint", "symbols_of", "unify"]


class Specialize(BaseException):
    """Restart the trace with ``static`` symbols made concrete and ``merge`` pairs joined.

    A BaseException, so a user's ``except Exception`` around traced code cannot swallow it."""

    def __init__(self, static=(), merge=()):
        super().__init__("specialize")
        self.static = set(static)
        self.merge = list(merge)     # (keep, drop) symbol names


def hint(d: Dim, env: Mapping[str, int]) -> int:
    """The size ``d`` has in this call."""
    return d if isinstance(d, int) else d.evaluate(env)


def symbols_of(dims: Sequence[Dim]) -> set[str]:
    out: set[str] = set()
    for d in dims:
        if isinstance(d, SymExpr):
            out |= d.symbols()
    return out


def _is_symbol(d: Dim) -> bool:
    return isinstance(d, SymExpr) and d.symbols() == {str(d)}


def unify(a: Dim, b: Dim, env: Mapping[str, int]) -> Dim | None:
    """The common value of two dims that must be equal; None when they differ in this call."""
    if a == b:
        return a
    if hint(a, env) != hint(b, env):
        return None
    if _is_symbol(a) and _is_symbol(b):
        keep, drop = sorted((str(a), str(b)))
        raise Specialize(merge=[(keep, drop)])
    raise Specialize(static=symbols_of((a, b)))


def broadcast_dims(a: Dim, b: Dim, env: Mapping[str, int]) -> Dim | None:
    """numpy broadcasting of two dims; None when they are incompatible in this call.

    A symbol whose size is 1 in this call would broadcast differently at other sizes, so it is
    made static rather than guessed."""
    if a == b:
        return a
    if isinstance(a, int) and a == 1:
        return b
    if isinstance(b, int) and b == 1:
        return a
    ha, hb = hint(a, env), hint(b, env)
    if ha == hb:
        return unify(a, b, env)
    for d, h in ((a, ha), (b, hb)):
        if h == 1:
            raise Specialize(static=symbols_of((d,)))
    return None


class SymDim:
    """What ``tracer.shape`` holds for a symbolic dim: integer arithmetic stays symbolic
    (``x.reshape(x.shape[0] * 2, -1)``); anything that needs the number itself (``int()``,
    ``range``, comparisons, hashing, true division) specializes the dim and restarts the trace."""

    __slots__ = ("expr", "hint")

    def __init__(self, expr: Dim, hint_value: int):
        self.expr = expr
        self.hint = hint_value

    @staticmethod
    def wrap(d: Dim, env: Mapping[str, int]):
        return d if isinstance(d, int) else SymDim(d, hint(d, env))

    def _concrete(self):
        raise Specialize(static=symbols_of((self.expr,)))

    def _arith(self, other, op, swap=False):
        if isinstance(other, SymDim):
            e2, h2 = other.expr, other.hint
        elif isinstance(other, int) and not isinstance(other, bool):
            e2, h2 = other, other
        else:
            return NotImplemented
        e1, h1 = self.expr, self.hint
        if swap:
            e1, e2, h1, h2 = e2, e1, h2, h1
        if op in (operator.floordiv, operator.mod) and h2 == 0:
            raise ZeroDivisionError("integer division or modulo by zero")
        expr = op(e1, e2)
        value = op(h1, h2)
        return expr if isinstance(expr, int) else SymDim(expr, value)

    def __add__(self, o):
        return self._arith(o, operator.add)

    def __radd__(self, o):
        return self._arith(o, operator.add, True)

    def __sub__(self, o):
        return self._arith(o, operator.sub)

    def __rsub__(self, o):
        return self._arith(o, operator.sub, True)

    def __mul__(self, o):
        return self._arith(o, operator.mul)

    def __rmul__(self, o):
        return self._arith(o, operator.mul, True)

    def __floordiv__(self, o):
        return self._arith(o, operator.floordiv)

    def __rfloordiv__(self, o):
        return self._arith(o, operator.floordiv, True)

    def __mod__(self, o):
        return self._arith(o, operator.mod)

    def __rmod__(self, o):
        return self._arith(o, operator.mod, True)

    def __neg__(self):
        return self._arith(-1, operator.mul)

    def __eq__(self, other):
        if isinstance(other, SymDim) and other.expr == self.expr:
            return True
        self._concrete()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        self._concrete()

    def __index__(self):
        self._concrete()

    __int__ = __float__ = __bool__ = __index__
    __lt__ = __le__ = __gt__ = __ge__ = __truediv__ = __rtruediv__ = __pow__ = __rpow__ = \
        lambda self, *a: self._concrete()

    def __repr__(self) -> str:
        return str(self.expr)

    __str__ = __repr__


def unwrap(d) -> Dim:
    """A dim given by user code (int, numpy int or SymDim) as an IR dim."""
    if isinstance(d, SymDim):
        return d.expr
    return operator.index(d)
