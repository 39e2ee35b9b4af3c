"""Errors a traced function can cause. Each names the numpy function (or Python construct)
at fault and the user's ``file:line``, found by walking the stack past Cortado's and numpy's
own frames, so the message points at the line to change."""

from __future__ import annotations

import os
import sys

from cortado.runtime.errors import CortadoError, UnsupportedOpError

__all__ = ["JitError", "TracerConversionError", "UnsupportedFunctionError", "user_location"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_NUMPY = os.path.dirname(os.path.abspath(__import__("numpy").__file__))
_SKIP = (_HERE + os.sep, _NUMPY + os.sep)


def user_location(depth: int = 1) -> str:
    """``file:line`` of the innermost frame outside cortado.jit and numpy (the user's code)."""
    frame = sys._getframe(depth)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_SKIP) and not path.startswith("<frozen"):
            try:
                rel = os.path.relpath(path)
                shown = rel if not rel.startswith("..") else path
            except ValueError:   # another drive on Windows
                shown = path
            return f"{shown}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


class JitError(CortadoError):
    """A function cannot be traced (bad arguments, unsupported result, shapes that clash)."""


class TracerConversionError(JitError):
    """The traced function needs the *value* of an array while it is being traced: Python
    control flow on an array (``if x.sum() > 0``), ``float(x)``, ``x.item()``, ``np.asarray(x)``.
    Values exist only when the compiled kernels run, so the trace cannot continue."""

    def __init__(self, what: str, where: str):
        super().__init__(
            f"{what} needs the value of a traced array, which is only known when the compiled kernels run",
            where=where,
            hint="branch with np.where(cond, a, b) instead of if/else on array values, or pass the value "
                 "as a static argument (cortado.jit(fn, static_argnames=(...)))")


class UnsupportedFunctionError(UnsupportedOpError):
    """A numpy function, ufunc, method or argument that cortado.jit cannot trace."""

    def __init__(self, function: str, where: str, reason: str = "", hint: str | None = None):
        self.items = [(function, where, reason or "not supported")]
        self.function = function
        self.missing_op = None     # the IR op a supported function needs but this build lacks
        text = f"{function} is not supported by cortado.jit"
        if reason:
            text += f": {reason}"
        CortadoError.__init__(self, text, where=where,
                              hint=hint or "see docs/jit.md for the numpy functions cortado.jit traces")
