"""Dead-code elimination: drop every node and constant that no graph output depends on.

The IR has no side-effecting ops, so liveness is plain reachability from the outputs.
Handles: dead branches, nodes whose outputs are all unused (multi-output nodes stay while any
output is used), constants nobody reads. Needs nothing before it.
"""

from __future__ import annotations

from cortado.ir import Graph


def dce(graph: Graph) -> bool:
    constants = len(graph.constants)
    removed = graph.remove_unused()
    return removed > 0 or len(graph.constants) != constants
