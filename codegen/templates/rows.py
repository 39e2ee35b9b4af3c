"""Row specs' vocabulary: a reduction or normalization as statistic passes plus a result.

``RowSpec`` entries live in the lowering table (``codegen.lowering``, kind ROW) and are
written in ``row_specs``; the reduction template renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from cortado.ir import Node, Op, Value
from cortado.ir.dims import Dim

from .. import exprs
from .. import index as ix
from ..lowering import LoweringKind, register, section
from ..writer import KernelWriter, broadcast_index

NEG_INF, POS_INF = '-float("inf")', 'float("inf")'


@dataclass
class Stat:
    """One per-row statistic, folded with ``kind`` ("sum", "prod", "max", "min") over
    ``term(x, stats)`` — the input mapped first, possibly with statistics of earlier passes
    (e.g. exp(x - max)); the column index is the variable ``cols``. ``dtype`` overrides the
    accumulator type (an index statistic is int32)."""

    name: str
    kind: str
    term: Callable[[str, dict], str] = lambda x, s: x
    dtype: str | None = None


@dataclass
class RowCtx:
    """What a spec's ``result`` sees: statistics, the input at the current column (None
    for reductions), the row length R as kernel text, and loads of other operands."""

    w: KernelWriter
    stats: dict
    x: str | None
    R: str
    index: tuple | None          # the input's index at the current column (normalizations)
    acc: str                     # accumulator type

    def at(self, value: Value, axes: Sequence[int] | None = None) -> str:
        """``value`` at the current element: its dims are the input's ``axes`` (default:
        numpy broadcasting against the input's shape)."""
        if axes is None:
            idx = broadcast_index(self.index, self._shape, value.shape)
        else:
            idx = tuple(ix.const(0) if value.shape[k] == 1 else self.index[a] for k, a in enumerate(axes))
        v = self.w.value_at(value, idx)
        return v if exprs.compute_dtype(value.dtype) == self.acc else f"{v}.to({self.acc})"

    _shape: tuple = ()


@dataclass
class RowSpec:
    x: Value
    axes: tuple[int, ...]                        # reduced axes of ``view`` (or of x)
    passes: list[list[Stat]]                     # statistic passes, in order
    result: Callable[[RowCtx], str]              # the output element
    normalize: bool                              # output has x's shape (else one value per row)
    view: tuple[Dim, ...] | None = None          # see x as this shape (same elements, row-major)
    helpers: set = field(default_factory=set)


_SPECS: dict[Op, Callable[[Node], RowSpec]] = section(LoweringKind.ROW)


def row_spec(*ops: Op):
    """Register ``fn(node) -> RowSpec`` as the row lowering of ``ops``."""
    return register(LoweringKind.ROW, *ops)


def has_spec(op: Op) -> bool:
    return op in _SPECS
