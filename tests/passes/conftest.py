"""Helpers for pass tests: count how often a pass actually rewrites the drawn graphs, so a
property test cannot pass by never exercising the pass."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import cortado.codegen.templates  # noqa: F401  (registers the kernel kinds the fusion driver asks)


@dataclass
class Counted:
    fn: object
    runs: int = 0
    changed: int = 0
    _last: object = None

    def __call__(self, graph) -> bool:
        result = self.fn(graph)
        if graph is not self._last:        # an idempotence re-run is not a new graph
            self.runs += 1
            self.changed += bool(result)
        self._last = graph
        return result

    @property
    def __name__(self):
        return getattr(self.fn, "__name__", "pass")

    def assert_exercised(self, at_least: float) -> None:
        """At least this fraction of runs changed a graph (the strategy reaches the pass)."""
        assert self.runs > 0
        rate = self.changed / self.runs
        assert rate >= at_least, f"{self.__name__} changed only {self.changed} of {self.runs} graphs"


@pytest.fixture
def counted():
    return Counted
