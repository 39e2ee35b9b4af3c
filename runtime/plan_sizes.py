"""A plan's sizes at one binding of its symbols, computed once per binding and kept.

Every call evaluates the same size expressions — each value's shape, whether a launch writes
only empty values, whether any value exceeds the element limit — for whatever sizes its inputs
bind. A static model has one binding, a dynamic one a few; computing each once saves a small
model much of its per-call time. Launch configs are not part of it (autotuning may change
them), nor are values sized by data (bound only when a host step runs: ``segments``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from . import sizes
from .errors import CortadoError, InputError
from .limits import check_elements

# how many bindings keep their sizes (a model called at more distinct sizes recomputes them)
KEPT = 64


@dataclass(frozen=True)
class Sizes:
    """The plan's sizes at one binding."""

    shapes: dict            # value name -> shape (values sized by data excluded)
    empty_steps: frozenset  # steps whose every output is empty


class PlanSizes:
    def __init__(self, plan: dict, late_values):
        self.plan = plan
        self.keys = tuple(plan["symbols"])
        self.late_values = late_values
        self._sizes: dict[tuple, Sizes] = {}
        self._checked: set[tuple] = set()

    @property
    def bindings(self) -> list[tuple]:
        """The bindings (symbol values, in ``plan["symbols"]`` order) whose sizes are kept."""
        return list(self._sizes)

    def key(self, env: Mapping[str, int]) -> tuple:
        return tuple(env.get(k) for k in self.keys)

    def at(self, env: Mapping[str, int]) -> Sizes:
        """The sizes ``env`` binds; an ``InputError`` names a value they do not determine."""
        key = self.key(env)
        found = self._sizes.get(key)
        if found is not None:
            return found
        shapes = {}
        for name, info in self.plan["values"].items():
            if name in self.late_values:
                continue
            try:
                shapes[name] = tuple(sizes.evaluate(d, env) for d in info["shape"])
            except CortadoError as e:
                raise InputError(f"the inputs do not determine the size of value {name!r}: {e.message}") from None
        empty = set()
        for i, step in enumerate(self.plan["steps"]):
            outs = step.get("outputs") or ()
            if outs and all(0 in shapes.get(n, ()) for n in outs):   # data-sized: not known empty
                empty.add(i)
        found = Sizes(shapes, frozenset(empty))
        if len(self._sizes) >= KEPT:        # many shapes seen (a dynamic model): start over
            self._sizes = {}
        self._sizes[key] = found
        return found

    def check_limit(self, env: Mapping[str, int], limit: int) -> None:
        """Every value within ``limit`` elements at these sizes (``ResourceLimitError``
        otherwise), once per binding and limit."""
        checked = (self.key(env), limit)
        if checked in self._checked:
            return
        for name, shape in self.at(env).shapes.items():
            check_elements(shape, f"value {name!r}", limit)
        if len(self._checked) >= KEPT:
            self._checked = set()
        self._checked.add(checked)
