"""A small progress display for long commands.

On a terminal it is one status line with the elapsed time, rewritten in place and cleared at
the end (also when the command fails, so an error message starts on a clean line). Elsewhere
(logs, CI) it prints one plain line per step. Either way it stays silent until the command has
taken a moment, so quick commands print only their result.
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, enabled: bool = True, stream=None, delay: float = 0.5):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.delay = delay
        self.shown = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.done()

    def step(self, message: str) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        if elapsed < self.delay:
            return
        line = f"[{elapsed:6.1f}s] {message}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line + " ...")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.enabled and self.tty and self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.shown = False
