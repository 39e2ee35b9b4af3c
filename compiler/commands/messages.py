"""What the command line says besides results: errors in CLI words, warnings as one-line notices.

The library's errors and warnings are written for Python callers (``target='interpreter'``,
``input_shapes={'x': (...)}``); ``to_cli`` rewrites those phrases into the flags a command-line
user types. ``notices`` turns every Python warning raised during a command (Cortado's own, and
Triton's) into one ``cortado: note:`` line on stderr, each message once, or silences them
under ``-q``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings

# (pattern, replacement), applied in order; the first ones remove a Python spelling that a
# "(CLI: ...)" aside already translates
_REWRITES = [
    (re.compile(r"pass input_shapes=\{[^}]*\} \(CLI: ([^)]*)\)"), r"pass \1"),
    (re.compile(r"pass weights=NET\.caffemodel \(CLI --weights\)"), "pass --weights NET.caffemodel"),
    (re.compile(r"random_weights=True \(CLI --random-weights\)"), "--random-weights"),
    (re.compile(r"input_shapes=\{'([^']+)': \([^)]*\)\}"), r"--shape \1=DIMS"),
    (re.compile(r"input_shapes / --input"), "--shape NAME=DIMS"),
    (re.compile(r"\binput_shapes (gives|names)\b"), r"--shape \1"),
    (re.compile(r"target='(\w+)' or '(\w+)'"), r"--target \1 or --target \2"),
    (re.compile(r"target='(\w+)'"), r"--target \1"),
    (re.compile(r"random_weights=True"), "--random-weights"),
    (re.compile(r"weights= / --weights"), "--weights"),
    (re.compile(r"weights=\.\.\.|weights=NET\.caffemodel|weights=(?=\W|$)"), "--weights"),
    (re.compile(r"stages=\[\.\.\.\]"), "a .prototxt with the stage you want in its state"),
]


def to_cli(text: str) -> str:
    """A library message with its Python-call phrases replaced by the matching CLI flags."""
    for pattern, repl in _REWRITES:
        text = pattern.sub(repl, text)
    return text


def _one_line(message) -> str:
    text = str(message).strip().splitlines()
    return to_cli(text[0]) if text else ""


@contextlib.contextmanager
def notices(quiet: bool, stream=None):
    """Within the block, warnings print as ``cortado: note: <first line>`` (each once), or
    not at all when ``quiet``. Triton's fp-fusion warning, a notice about its own defaults that
    a Cortado user cannot act on, is answered by keeping today's default explicitly
    (``TRITON_DEFAULT_FP_FUSION=1`` unless the user set it), which also reaches the processes
    that compile cubins ahead of time."""
    out = stream or sys.stderr
    saved = {k: os.environ.get(k) for k in ("TRITON_DEFAULT_FP_FUSION", "PYTHONWARNINGS")}
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    if quiet:   # inherited by spawned workers, which do not run this hook
        os.environ["PYTHONWARNINGS"] = "ignore"
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = _one_line(message)
        if quiet or not text or text in seen:
            return
        seen.add(text)
        print(f"cortado: note: {text}", file=out)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore" if quiet else "always")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.showwarning = show
            yield
    finally:    # main() may run in-process (tests, scripts): leave the environment as it was
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
