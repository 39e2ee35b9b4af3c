"""The graph passes for each opt level, run by ``passes.manager.PassManager``.

    O0  nothing (but mixed precision, below)
    O1  cleanup to a fixed point: DCE, CSE, shape folding, constant folding, algebraic
        simplification (Identity, Dropout, x+0, x*1, no-op casts, transpose/reshape chains)
    O2  O1, then to a fixed point: batch-norm / per-channel affine folding into Conv and
        Gemm, layout assignment, transpose sinking, cleanup; then horizontal fusion of sibling
        contractions (kernel fusion runs after, in the driver)
    O3  O2 (autotuning happens at codegen time on a GPU)

Mixed precision (``dtype`` float16/bfloat16) runs last at every level, O0 included: it is a
choice of storage type, not an optimization, and running it after folding rounds folded
weights once.

``run_pipeline`` returns the per-pass table (pass, seconds, nodes before/after, changed) that
``CompiledModel.stats["passes"]`` shows.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable, Iterable

from cortado.passes.algebraic import simplify
from cortado.passes.batchnorm import fold_batchnorm
from cortado.passes.constant_folding import fold_constants
from cortado.passes.cse import cse
from cortado.passes.dce import dce
from cortado.passes.horizontal import fuse_siblings
from cortado.passes.kernel_plan import STAGES as KERNEL_STAGES
from cortado.passes.layout import assign_layout
from cortado.passes.manager import FixedPoint, NamedPass, PassManager, Step, step_names
from cortado.passes.precision import PrecisionConfig, convert_precision
from cortado.passes.shape_folding import fold_shapes
from cortado.passes.transpose_sinking import sink_transposes
from cortado.runtime.errors import CortadoError

from .ir import DType, Graph, format_graph

DTYPES = ("float32", "float16", "bfloat16")
CLEANUP = FixedPoint("cleanup", (dce, cse, fold_shapes, fold_constants, simplify, dce))


def check_dtype(dtype: str) -> DType:
    """The compute/storage dtype a user asked for, or a CortadoError naming the choices."""
    if str(dtype) not in DTYPES:
        raise CortadoError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}",
                           hint="float16/bfloat16 store tensors in half precision and accumulate in float32")
    return DType(str(dtype))


def passes_for(opt_level: int, dtype: str = "float32") -> list[Step]:
    steps: list[Step] = []
    if opt_level >= 1:
        steps.append(CLEANUP)
    if opt_level >= 2:    # repeated: a sunk transpose can expose a per-channel affine to fold
        steps.append(FixedPoint("optimize", (fold_batchnorm, assign_layout, sink_transposes, CLEANUP), max_rounds=4))
        steps.append(NamedPass("horizontal", fuse_siblings))   # after cleanup: CSE would not undo it
    storage = check_dtype(dtype)
    if storage is not DType.FLOAT32:
        steps.append(NamedPass("precision", functools.partial(convert_precision, config=PrecisionConfig(storage))))
    return steps


def pass_names() -> list[str]:
    """Every name ``disable`` and ``dump_after`` accept: the graph passes and the kernel-plan
    stages (fusion's steps and the memory plan, ``passes.kernel_plan.STAGES``)."""
    return sorted(set(step_names(passes_for(3, "float16"))) | set(KERNEL_STAGES))


def check_pass_names(names: Iterable[str]) -> None:
    """A CortadoError naming every name that is not a pass (``disable`` / ``dump_after``)."""
    unknown = sorted(set(names) - set(pass_names()))
    if unknown:
        raise CortadoError(f"unknown pass name(s): {', '.join(unknown)}",
                           hint=f"known passes: {', '.join(pass_names())}")


def _verify_default() -> bool:
    """Verify after each pass in debug mode, under pytest, or with CORTADO_VERIFY=1."""
    flag = os.environ.get("CORTADO_VERIFY")
    if flag is not None:
        return flag not in ("", "0")
    return "PYTEST_CURRENT_TEST" in os.environ


def _print_dump(name: str, graph: Graph) -> None:
    print(f"// graph after {name}\n{format_graph(graph)}", file=sys.stderr)


def run_pipeline(graph: Graph, *, opt_level: int, dtype: str = "float32", debug: bool = False,
                 verify: bool | None = None, disable: Iterable[str] = (), dump_after: Iterable[str] = (),
                 dump: Callable[[str, Graph], None] | None = None) -> list[dict]:
    """Optimize ``graph`` in place for ``opt_level``; returns the per-pass table.

    ``disable``: pass names to skip (``pass_names()`` lists them; "cleanup" is the group).
    ``dump_after``: pass names after which ``dump(name, graph)`` is called (default: print
    the graph to stderr). ``verify``: check the IR after every pass (default: in debug mode,
    under pytest, or with CORTADO_VERIFY=1). ``dtype``: the storage type (float16/bfloat16
    add the mixed-precision pass at the end, see ``passes.precision``).
    """
    disable, dump_after = set(disable), set(dump_after)
    check_pass_names(disable | dump_after)
    steps = passes_for(opt_level, dtype)
    manager = PassManager(steps, verify=debug or (_verify_default() if verify is None else verify),
                          disable=disable, dump_after=dump_after, dump=dump or _print_dump)
    return manager.run(graph)
