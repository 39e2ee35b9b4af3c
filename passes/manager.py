"""The pass manager: run named passes in order, verify, time, dump, and report.

A pass is a callable ``fn(graph) -> bool`` that mutates the graph in place and returns whether
it changed it; configuration is bound explicitly (``functools.partial`` or a small class),
never read from globals. The manager

- runs each pass under its name (``fn.__name__`` unless given), skipping disabled names;
- repeats a ``FixedPoint`` group until no member changes the graph (bounded);
- verifies the IR after every pass when asked (tests and debug mode) and names the pass
  that broke it;
- times every run and records nodes before/after, for ``CompiledModel.stats["passes"]``;
- hands the graph to ``dump(name, graph)`` after the passes named in ``dump_after``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, Union

from cortado.ir import Graph
from cortado.ops import verify as verify_graph

__all__ = ["Pass", "NamedPass", "FixedPoint", "PassManager", "PassFailure", "pass_name", "named"]

Pass = Callable[[Graph], bool]


@dataclass(frozen=True)
class NamedPass:
    """A pass with the name it is reported, disabled and dumped under."""

    name: str
    fn: Pass

    def __call__(self, graph: Graph) -> bool:
        return self.fn(graph)


@dataclass(frozen=True)
class FixedPoint:
    """Passes run in order, repeatedly, until a whole round changes nothing (or ``max_rounds``)."""

    name: str
    passes: tuple
    max_rounds: int = 8


Step = Union[Pass, NamedPass, FixedPoint]


class PassFailure(RuntimeError):
    """A pass raised, or left a graph that fails verification; names the pass."""


def named(name: str, fn: Pass) -> NamedPass:
    return NamedPass(name, fn)


def pass_name(step: Step) -> str:
    if isinstance(step, (NamedPass, FixedPoint)):
        return step.name
    fn = step
    while hasattr(fn, "func"):          # functools.partial
        fn = fn.func
    return getattr(fn, "__name__", type(fn).__name__)


def step_names(steps: Iterable[Step]) -> list[str]:
    """Every pass name in ``steps``, groups included (for validating --disable / --dump-after)."""
    out = []
    for s in steps:
        out.append(pass_name(s))
        if isinstance(s, FixedPoint):
            out += step_names(s.passes)
    return out


class PassManager:
    def __init__(self, steps: Sequence[Step], *, verify: bool = False, disable: Iterable[str] = (),
                 dump_after: Iterable[str] = (), dump: Callable[[str, Graph], None] | None = None):
        self.steps = list(steps)
        self.verify = verify
        self.disable = set(disable)
        self.dump_after = set(dump_after)
        self.dump = dump
        self.table: list[dict] = []

    def run(self, graph: Graph) -> list[dict]:
        """Run every step; returns the per-pass table (one row per pass execution)."""
        self.table = []
        self._run_steps(self.steps, graph, round_=0)
        return self.table

    def _run_steps(self, steps: Sequence[Step], graph: Graph, round_: int) -> bool:
        changed = False
        for step in steps:
            name = pass_name(step)
            if name in self.disable:
                continue
            if isinstance(step, FixedPoint):
                for r in range(1, step.max_rounds + 1):
                    if not self._run_steps(step.passes, graph, round_=r):
                        break
                    changed = True
                self._after(name, graph)
                continue
            changed |= self._run_one(name, step, graph, round_)
        return changed

    def _run_one(self, name: str, fn: Pass, graph: Graph, round_: int) -> bool:
        before = len(graph)
        t0 = time.perf_counter()
        try:
            changed = fn(graph)
        except Exception as e:
            raise PassFailure(f"pass {name!r} raised {type(e).__name__}: {e}") from e
        seconds = time.perf_counter() - t0
        if not isinstance(changed, bool):
            raise PassFailure(f"pass {name!r} returned {changed!r}; passes return True if they changed the graph")
        if self.verify:
            try:
                verify_graph(graph)
            except Exception as e:
                raise PassFailure(f"the graph fails verification after pass {name!r}: {e}") from e
        row = {"pass": name, "seconds": seconds, "nodes_before": before, "nodes_after": len(graph),
               "changed": changed}
        if round_:
            row["round"] = round_
        self.table.append(row)
        self._after(name, graph)
        return changed

    def _after(self, name: str, graph: Graph) -> None:
        if name in self.dump_after and self.dump is not None:
            self.dump(name, graph)
