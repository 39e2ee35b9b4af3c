"""Import a generated kernel module from its source text.

Triton reads a kernel's source with ``inspect`` and decides at decoration time whether
``@triton.jit`` builds an interpreted or a compiled function, so the source is written to a
content-addressed file in the cache folder and imported once per (source, mode).

Loading holds ``_LOAD_LOCK`` for the whole import: ``triton.knobs.runtime.interpret`` is one
process-wide flag that must keep its value while the module's decorators run (a cuda load and
an interpreter load at once would otherwise each build the other's kind of kernels), and two
threads loading the same source must get the same module object, imported once.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

from .errors import OutputError
from .locks import INTERPRETER_LOCK

_MODULES: dict[tuple[str, bool], ModuleType] = {}
_LOAD_LOCK = threading.Lock()


def cache_dir() -> Path:
    """$CORTADO_CACHE_DIR, else a per-user folder under the system temp dir."""
    root = os.environ.get("CORTADO_CACHE_DIR")
    if root:
        path = Path(root)
    else:
        uid = os.getuid() if hasattr(os, "getuid") else "user"
        path = Path(tempfile.gettempdir()) / f"cortado-{uid}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def usual_mode(path, directory: bool = False) -> None:
    """Give a file or folder made by ``tempfile`` (private: 0600 / 0700) the mode a plain
    ``open``/``mkdir`` would have given it, before it is renamed into place."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_UMASK)


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so readers never see half a file. A file
    system error (a missing or read-only folder, a full disk) is an ``OutputError`` naming
    ``path``; nothing is left behind."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        usual_mode(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
        raise


@contextlib.contextmanager
def _interpret(mode: bool):
    import triton

    old = triton.knobs.runtime.interpret
    triton.knobs.runtime.interpret = mode
    try:
        yield
    finally:
        triton.knobs.runtime.interpret = old


def load_kernels(source: str, *, interpret: bool) -> ModuleType:
    """The module built from ``source`` (interpreted or compiled kernels), imported once per
    process; safe to call from many threads."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    key = (digest, interpret)
    module = _MODULES.get(key)
    if module is not None:
        return module
    with _LOAD_LOCK:
        module = _MODULES.get(key)
        if module is None:
            module = _import(source, digest, interpret)
            _MODULES[key] = module
    return module


def _import(source: str, digest: str, interpret: bool) -> ModuleType:
    path = cache_dir() / "kernels" / f"k_{digest}.py"
    if not path.exists() or path.read_text() != source:
        write_atomic(path, source.encode())
    name = f"cortado_kernels_{digest}_{'interp' if interpret else 'gpu'}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        # decorators may parse source (ast) and read triton.language: not while a kernel runs
        with INTERPRETER_LOCK, _interpret(interpret):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)      # no half-imported module for the next caller to find
        raise
    return module
