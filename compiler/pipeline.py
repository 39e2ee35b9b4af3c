"""The pass pipeline for each opt level (the full pass manager lives in ``passes.manager``).

Mixed precision (``dtype`` float16/bfloat16) runs last at every level, O0 included: it is a
choice of storage type, not an optimization, and running it after folding rounds folded
weights once.
"""

from __future__ import annotations

import time

from passes.precision import PrecisionConfig, convert_precision
from runtime.errors import CortadoError

from .ir import DType, Graph
from .ops import verify

DTYPES = ("float32", "float16", "bfloat16")


def check_dtype(dtype: str) -> DType:
    """The compute/storage dtype a user asked for, or a CortadoError naming the choices."""
    if str(dtype) not in DTYPES:
        raise CortadoError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}",
                           hint="float16/bfloat16 store tensors in half precision and accumulate in float32")
    return DType(str(dtype))


def run_pipeline(graph: Graph, *, opt_level: int, dtype: str = "float32", debug: bool = False) -> list[dict]:
    storage = check_dtype(dtype)
    table: list[dict] = []
    if opt_level >= 1:
        before = len(graph)
        graph.remove_unused()
        table.append({"pass": "dce", "nodes_before": before, "nodes_after": len(graph), "seconds": 0.0,
                      "changed": before != len(graph)})
    if opt_level >= 2:
        from passes.horizontal import fuse_siblings

        before, t0 = len(graph), time.perf_counter()
        changed = fuse_siblings(graph)
        table.append({"pass": "horizontal", "nodes_before": before, "nodes_after": len(graph),
                      "seconds": time.perf_counter() - t0, "changed": changed})
    if storage is not DType.FLOAT32:
        before, t0 = len(graph), time.perf_counter()
        changed = convert_precision(graph, PrecisionConfig(storage))
        table.append({"pass": "precision", "nodes_before": before, "nodes_after": len(graph),
                      "seconds": time.perf_counter() - t0, "changed": changed})
    if debug:
        verify(graph)
    return table
