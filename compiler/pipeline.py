"""The pass pipeline for each opt level (the full pass manager lives in ``passes.manager``)."""

from __future__ import annotations

from .ir import Graph
from .ops import verify


def run_pipeline(graph: Graph, *, opt_level: int, dtype: str = "float32", debug: bool = False) -> list[dict]:
    table: list[dict] = []
    if opt_level >= 1:
        before = len(graph)
        graph.remove_unused()
        table.append({"pass": "dce", "nodes_before": before, "nodes_after": len(graph), "seconds": 0.0,
                      "changed": before != len(graph)})
    if debug:
        verify(graph)
    return table
