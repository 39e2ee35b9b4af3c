"""One BLAS thread while an interpreted kernel runs.

Triton's interpreter computes ``tl.dot`` with ``np.matmul`` on tiles (at most a few million
multiply-adds each). numpy's OpenBLAS splits such products over all cores and its threads
spin while they wait for each other; on a machine whose cores are busy with other work, a
[4096, 64] x [64, 64] product took 7.7 ms on two threads against 0.4 ms on one, and ResNet-18 on
the interpreter spent two thirds of its time so. ``one_blas_thread()`` lowers OpenBLAS to one
thread for the block and restores the previous count after; it finds the library among the
process's mapped files (Linux ``/proc/self/maps``) and does nothing where it cannot (another
BLAS, another system). numpy code in other Python threads runs on one BLAS thread meanwhile.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading

_LOCK = threading.Lock()
_FUNCS: list = []          # [(get, set)] once looked up; [None] when there is nothing to call
_NAMES = [("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
          ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
          ("openblas_get_num_threads", "openblas_set_num_threads")]


def _openblas():
    """(get_num_threads, set_num_threads) of the OpenBLAS numpy uses, or None."""
    with _LOCK:
        if not _FUNCS:
            _FUNCS.append(_lookup())
        return _FUNCS[0]


def _lookup():
    try:
        import numpy  # noqa: F401  (maps its BLAS into the process)
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
        for path in paths:
            lib = ctypes.CDLL(path)
            for get, set_ in _NAMES:
                if hasattr(lib, get) and hasattr(lib, set_):
                    g, s = getattr(lib, get), getattr(lib, set_)
                    g.restype, g.argtypes = ctypes.c_int, []
                    s.restype, s.argtypes = None, [ctypes.c_int]
                    return g, s
    except OSError:
        pass
    return None


@contextlib.contextmanager
def one_blas_thread():
    funcs = _openblas()
    if funcs is None:
        yield
        return
    get, set_ = funcs
    before = get()
    if before <= 1:
        yield
        return
    set_(1)
    try:
        yield
    finally:
        set_(before)
