"""A small progress display for long commands: one status line on a terminal, plain lines
otherwise, each with the elapsed time. It only prints once a step has taken a moment, so
quick commands stay quiet."""

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
        self.pending: str | None = None
        self.shown = False

    def _write(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.shown = True

    def step(self, message: str) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        if self.pending is not None and (elapsed >= self.delay or self.shown):
            self._write(f"[{elapsed:6.1f}s] {self.pending}")
        self.pending = message
        if elapsed >= self.delay:
            self._write(f"[{elapsed:6.1f}s] {message} ...")

    def done(self) -> None:
        if self.enabled and self.tty and self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
