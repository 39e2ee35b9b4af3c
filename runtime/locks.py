"""The runtime's process-wide lock, in one place, with the shared state it guards.

``INTERPRETER_LOCK`` (re-entrant) guards state that lives once per Python process:

* Triton's interpreter keeps the kernel it is running in module-level objects: it replaces the
  builtins of ``triton.language`` with interpreted ones for the duration of a launch, and
  keeps the grid size and program index on its one ``interpreter_builder``
  (``triton/runtime/interpreter.py``, ``GridExecutor.__call__``). Two kernels interpreted at
  once see each other's patches and grid. Every interpreted launch holds the lock, and so does
  patching the interpreter (``devices/interpreter_bf16.install``).
* Triton's JIT reads ``triton.language`` while it compiles a kernel, so a cuda launch that
  compiles (the first of each kernel) holds it too: one process may use both targets.
* CPython 3.11 keeps the AST constructor's recursion counter per interpreter, not per thread,
  so ``ast.parse`` in two threads at once can fail with "SystemError: AST constructor
  recursion depth mismatch" (python/cpython#106905). Triton's interpreter parses each kernel
  on its first launch (under the lock); the runtime's own parses (size expressions, the kernel
  names of a loaded module) take it as well, through ``parse``.

Everything else a run does — checking inputs, allocating, copying outputs — runs outside it.
"""

from __future__ import annotations

import ast
import threading

INTERPRETER_LOCK = threading.RLock()


def parse(source: str, **kwargs) -> ast.AST:
    """``ast.parse`` under ``INTERPRETER_LOCK`` (see above: not thread-safe in CPython 3.11)."""
    with INTERPRETER_LOCK:
        return ast.parse(source, **kwargs)
