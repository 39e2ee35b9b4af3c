"""An indented source buffer: the one way generated code is written."""

from __future__ import annotations

import contextlib


class IndentedBuffer:
    def __init__(self, indent: int = 0):
        self._lines: list[str] = []
        self._indent = indent

    def line(self, text: str = "") -> None:
        self._lines.append(("    " * self._indent + text) if text else "")

    def lines(self, text: str) -> None:
        for ln in text.splitlines():
            self.line(ln)

    @contextlib.contextmanager
    def indent(self, n: int = 1):
        self._indent += n
        try:
            yield
        finally:
            self._indent -= n

    def getvalue(self) -> str:
        return "\n".join(self._lines) + ("\n" if self._lines else "")

    def __len__(self) -> int:
        return len(self._lines)
