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
