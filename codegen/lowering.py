"""The lowering table: how each op becomes Triton text inside a kernel, one entry per op.

An op lowers in one of three ways, and ``lowering_for(op)`` says which:

- ``EXPR``: an elementwise expression over its operands' values at the same index
  (``fn(call: exprs.Call) -> str``; ``codegen/exprs.py``);
- ``INDEX``: index arithmetic or a small window read at an output index — views, gathers,
  pooling (``fn(writer, node, value, index, guard) -> str``; ``codegen/views.py``,
  ``codegen/windows.py``);
- ``ROW``: a row reduction or normalization described as statistic passes plus a result
  (``fn(node) -> RowSpec``; ``codegen/templates/row_specs.py``).

Ops that need a kernel of their own (CumSum, ScatterND, Shape, ...) have no lowering: their
template renders them (``codegen/templates``). Registering one op twice is an error, so an op
has exactly one lowering. The per-kind sections are plain dicts so a test can swap one
entry (``monkeypatch.setitem(exprs._TABLE, op, fn)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable

from cortado.ir import Op


class LoweringKind(str, Enum):
    EXPR = "expr"      # elementwise expression
    INDEX = "index"    # index math / window read at an output index
    ROW = "row"        # row statistics (reductions, normalizations)


@dataclass(frozen=True)
class Lowering:
    op: Op
    kind: LoweringKind
    fn: Callable


# the writer consults INDEX before EXPR: a view of an elementwise op would be index math
_SECTIONS: dict[LoweringKind, dict[Op, Callable]] = {k: {} for k in (LoweringKind.INDEX, LoweringKind.EXPR,
                                                                     LoweringKind.ROW)}


def section(kind: LoweringKind) -> dict[Op, Callable]:
    """The live table of one kind of lowering (op -> fn)."""
    return _SECTIONS[kind]


def register(kind: LoweringKind, *ops: Op):
    """Decorator: ``fn`` lowers ``ops`` as ``kind``. An op registered twice is an error."""
    def deco(fn: Callable) -> Callable:
        for op in ops:
            old = lowering_for(op)
            if old is not None and old.fn is not fn:
                raise ValueError(f"{op.value} already has a {old.kind.value} lowering ({old.fn.__name__})")
            _SECTIONS[kind][op] = fn
        return fn
    return deco


def lowering_for(op: Op) -> Lowering | None:
    """How ``op`` lowers inside a kernel, or None when only a template renders it."""
    for kind, table in _SECTIONS.items():
        fn = table.get(op)
        if fn is not None:
            return Lowering(op, kind, fn)
    return None
