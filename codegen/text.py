"""An indented source buffer: the one way generated code is written."""

from __future__ import annotations

import contextlib
import re


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

    @property
    def depth(self) -> int:
        """The current indentation, in levels."""
        return self._indent

    def line_at(self, index: int) -> str:
        return self._lines[index]

    def insert(self, index: int, text: str, indent: int) -> None:
        """``text`` as line ``index`` (the lines after it move down), at ``indent`` levels: how
        a loop-invariant computation is placed before the loop header it was found under."""
        self._lines.insert(index, ("    " * indent + text) if text else "")

    def getvalue(self) -> str:
        return "\n".join(self._lines) + ("\n" if self._lines else "")

    def __len__(self) -> int:
        return len(self._lines)


_ASSIGN = re.compile(r"^(\s*)([A-Za-z_]\w*) = ")
_WORD = re.compile(r"[A-Za-z_]\w*")
_EFFECTS = ("tl.store", "tl.atomic", "tl.debug", "tl.device_print", "tl.device_assert")


def drop_unused_assignments(body: str, context: str = "") -> str:
    """``body`` without the assignments nothing reads: generators evaluate what a fused
    group might need (a concat piece a constant index never selects, a guard no load took),
    and a kernel people read should not carry those lines. Names are counted as words over the
    whole body and ``context`` (the signature and prologue); an assignment whose name occurs
    nowhere else goes, repeatedly, unless it has an effect or is the only line of its block."""
    lines = body.split("\n")
    while True:
        counts: dict[str, int] = {}
        for text in (context, *lines):
            for word in _WORD.findall(text):
                counts[word] = counts.get(word, 0) + 1
        dropped = False
        for i, text in enumerate(lines):
            m = _ASSIGN.match(text)
            if m is None or counts.get(m.group(2), 0) != 1 or any(e in text for e in _EFFECTS):
                continue
            indent = len(m.group(1))
            prev = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
            nxt = next((ln for ln in lines[i + 1:] if ln.strip()), "")
            if prev.rstrip().endswith(":") and len(nxt) - len(nxt.lstrip()) < indent:
                continue     # the block's only statement
            del lines[i]
            dropped = True
            break
        if not dropped:
            return "\n".join(lines)
