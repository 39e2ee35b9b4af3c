"""Loop-invariant code motion for the kernel writer: where a computation may be placed.

A generated kernel's index arithmetic and guards are pure: computing one before a loop whose
variable it does not read gives the value the loop body would. Triton's interpreter pays a
fixed Python cost per tile operation and GPUs pay for integer division, so the writer places
each at the shallowest loop depth whose variables it reads (``KernelWriter.idx``, ``guard``).

``LoopMotion`` is the bookkeeping that decision needs, kept beside the writer's body: the open
scopes (the line of each loop's ``for`` header, its indentation; a scope that is not a loop is
a barrier nothing moves out of), the depth at which every name was last defined, and which
loops code reading a name was moved out of — redefining that name inside such a loop while it
is open would leave the moved code with the name's first value, so it is refused.
"""

from __future__ import annotations

import itertools
import re

from .text import IndentedBuffer

# what a generated line defines: ``a = ...``, ``a += ...``, ``a, b = ...`` or ``for a in ...``
_DEFINES = re.compile(r"^\s*(?:([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?://|<<|>>|[-+*/%&|^])?=(?!=)"
                      r"|for\s+([A-Za-z_]\w*)\s+in\b)")
_IDENT = re.compile(r"[A-Za-z_]\w*")
WORDS = re.compile(r"(?<![\w.])[A-Za-z_]\w*")


class LoopMotion:
    def __init__(self, body: IndentedBuffer):
        self.body = body
        self._headers: list[int | None] = []   # per open scope: its ``for`` line, None if not a loop
        self._indents: list[int] = []          # per open scope: its header's indentation
        self._ids: list[int] = []              # per open scope: a serial number
        self._serials = itertools.count()
        self._defs: dict[str, int] = {}        # name -> depth of its latest definition
        self._moved_reads: dict[str, set[int]] = {}   # name -> loops code reading it left

    @property
    def depth(self) -> int:
        """How many scopes the next line is inside."""
        return len(self._headers)

    def open_scope(self) -> None:
        """A scope begins; its header is the body's last line if that is a ``for``."""
        last = len(self.body) - 1
        is_loop = last >= 0 and self.body.line_at(last).lstrip().startswith("for ")
        self._headers.append(last if is_loop else None)
        self._indents.append(self.body.depth)
        self._ids.append(next(self._serials))

    def close_scope(self) -> None:
        self._headers.pop()
        self._indents.pop()
        self._ids.pop()

    def define(self, text: str, depth: int | None = None) -> None:
        """Record what the line ``text``, written at ``depth`` (default: here), defines."""
        depth = self.depth if depth is None else depth
        m = _DEFINES.match(text)
        if m is None:
            return
        names, loop_var = m.group(1), m.group(2)
        defined = [loop_var] if loop_var else [n.strip() for n in names.split(",")]
        for name in defined:
            self._defs[name] = depth + 1 if loop_var else depth
            if self._moved_reads.get(name, set()) & set(self._ids[:depth]):
                raise AssertionError(f"generated code redefines {name!r} inside a loop that code reading it "
                                     "was moved out of; define it before the loop")

    def level_of_name(self, name: str) -> int:
        """The shallowest scope depth at which ``name`` (a variable, or a tile variable such as
        ``rm[:, None]``) holds the value it holds here: where it was last defined; 0 for kernel
        arguments and the prologue's names, which the body never defines."""
        m = _IDENT.match(name)
        return min(self._defs.get(m.group(0), 0) if m else self.depth, self.depth)

    def level_of(self, names) -> int:
        """The depth a computation reading ``names`` can move out to: where the latest of them
        was defined, and not out of a scope that is not a loop."""
        level = max((self.level_of_name(n) for n in names), default=0)
        floor = max((d for d, header in enumerate(self._headers, start=1) if header is None), default=0)
        return max(level, floor)

    def place(self, level: int, line: str) -> None:
        """Insert ``line`` (an assignment) at depth ``level`` < ``depth``: just before the
        header of the open loop at ``level + 1``."""
        at = self._headers[level]
        self.body.insert(at, line, self._indents[level])
        escaped = set(self._ids[level:])
        for word in WORDS.findall(line.split("=", 1)[1]):
            self._moved_reads.setdefault(word, set()).update(escaped)
        for d in range(level, len(self._headers)):     # the headers below moved down a line
            if self._headers[d] is not None and self._headers[d] >= at:
                self._headers[d] += 1
        self.define(line, level)
