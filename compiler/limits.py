"""Size limits at compile time: every value of the graph fits ``max_elements``.

The limit itself (argument, ``$CORTADO_MAX_ELEMENTS``, or the kernels' 32-bit bound) is
``runtime.limits.max_elements``; the runtime checks the same bound again once batch dims are
known. Frontends also put it in ``graph.meta["max_elements"]`` so that ``ops.apply`` refuses an
oversized node while the graph is built, and a Caffe net's random weights are never drawn for
an absurd layer.
"""

from __future__ import annotations

from cortado.runtime.errors import ResourceLimitError
from cortado.runtime.limits import ENV_VAR, INDEX_LIMIT, check_elements, element_count, max_elements

from .ir import Graph

__all__ = ["ENV_VAR", "INDEX_LIMIT", "MAX_RANK", "check_elements", "check_graph", "element_count", "max_elements"]


MAX_RANK = 64    # numpy's limit on dims: the runtime holds every value as a numpy array


def check_graph(graph: Graph, limit: int, *, where: str | None = None) -> None:
    """Raise ``ResourceLimitError`` naming the first input, constant or node output of
    ``graph`` whose static size (symbolic dims at 1) is over ``limit``, or whose rank is over
    ``MAX_RANK``."""
    def check(v, label):
        if len(v.shape) > MAX_RANK:
            raise ResourceLimitError(f"{label} has {len(v.shape)} dims; at most {MAX_RANK} are supported",
                                     where=where)
        check_elements(v.shape, label, limit, where=where)

    for v in graph.inputs:
        check(v, f"input {v.name!r}")
    for name, v in graph.constants.items():
        check(v, f"constant {name!r}")
    for node in graph.nodes:
        for v in node.outputs:
            check(v, f"value {v.name!r} (output of node {node.name!r}, {node.op.value})" if node.name else
                  f"value {v.name!r} ({node.op.value})")
