"""Reading a model or weights file: one set of checks, one wording, for every frontend.

A missing path, a folder, an empty file or one far larger than its format allows is refused
before anything is read, each with its own ``ModelLoadError``.
"""

from __future__ import annotations

from pathlib import Path

from cortado.runtime.errors import ModelLoadError


def read_model_file(path: Path, *, kind: str, max_bytes: int, too_big: str, hint: str,
                    role: str = "model", missing_hint: str = "check the path") -> bytes:
    """The bytes of ``path``, a ``role`` ("model" or "weights") file of type ``kind`` (such as
    "prototxt"); ``too_big`` and ``hint`` explain a file over ``max_bytes``."""
    if not path.exists():
        raise ModelLoadError(f"{role} file not found: {path}", hint=missing_hint)
    if path.is_dir():
        raise ModelLoadError(f"{path} is a folder, not a {kind} file")
    size = path.stat().st_size
    if size == 0:
        raise ModelLoadError(f"{role} file {path} is empty")
    if size > max_bytes:
        raise ModelLoadError(f"{role} file {path} is {size:,} bytes, {too_big}", hint=hint)
    return path.read_bytes()
