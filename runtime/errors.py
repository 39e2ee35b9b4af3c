"""Errors a user can cause. Each says what went wrong, where, and how to fix it.

They live in ``runtime`` because a serving machine raises them too (bad inputs, a tampered
artifact) without the compiler installed; ``cortado.errors`` re-exports every one. The CLI
turns any ``CortadoError`` into one message and exit code 2; anything else is a bug in
Cortado and keeps its traceback.
"""

from __future__ import annotations


class CortadoError(Exception):
    """Base of every user-facing error."""

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ModelLoadError(CortadoError):
    """The model file is missing, unreadable, or not the format it claims to be."""


class ModelFormatError(CortadoError):
    """The model parsed but is malformed (cycle, dangling name, bad attribute, bad shape)."""


class UnsupportedOpError(CortadoError):
    """One or more operators are not supported; ``items`` lists every one of them."""

    def __init__(self, items: list[tuple[str, str, str]], *, where: str | None = None):
        # items: (op type, node name, reason)
        self.items = list(items)
        lines = [f"  {op} (node {name!r}): {why}" for op, name, why in self.items]
        super().__init__(f"{len(self.items)} unsupported operator(s):\n" + "\n".join(lines), where=where,
                         hint="run `cortado check MODEL` for the full table of supported ops")


class ShapeError(CortadoError):
    """Shapes or dtypes do not fit together (at compile time or for the inputs given at run time)."""


class InputError(CortadoError):
    """Inputs given to a compiled model do not match its signature."""


class WeightsError(CortadoError):
    """Weights are missing, empty, or do not fit the layers they belong to."""


class ArtifactError(CortadoError):
    """A saved artifact is missing, truncated, tampered with, or from an unknown format version."""


class ResourceLimitError(CortadoError):
    """A tensor or model exceeds a configured size limit."""


class OutputError(CortadoError):
    """A file or folder Cortado was asked to write (outputs, an exported model) cannot be written."""


class TargetError(CortadoError):
    """The requested target (cuda, interpreter) cannot be used on this machine."""


class KernelLaunchError(CortadoError):
    """A kernel failed while it ran (raised by Triton, its interpreter or the CUDA driver).

    Names the kernel, the plan step and the graph nodes it was generated from; the original
    exception is the ``__cause__``. Inputs were checked before any launch, so this is a bug in
    the generated kernel or below it, not in the caller's data.
    """

    def __init__(self, kernel: str, nodes: list[str], step: int, error: BaseException, *, target: str = ""):
        self.kernel = kernel
        self.nodes = list(nodes)
        self.step = step
        self.error = error
        cause = error
        if type(error).__name__ == "InterpreterError" and error.__cause__ is not None:
            cause = error.__cause__        # Triton's interpreter wraps the real error in its repr
        what = f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"
        source = f" (from nodes {', '.join(self.nodes)})" if self.nodes else ""
        where = f"{target} " if target else ""
        super().__init__(f"kernel {kernel}{source}, step {step} of the launch plan, failed on the {where}target: "
                         f"{what.rstrip(': ')}",
                         hint="this is a bug in Cortado or Triton, not in the inputs: please report it with the "
                              "output of `cortado compile MODEL --repro DIR`")
