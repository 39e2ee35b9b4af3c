"""The CUDA driver's result convention, shared by the cuda device and the cubin launcher.

``cuda.bindings.driver`` returns ``(error, *values)`` from every call; ``check`` raises a
``TargetError`` naming the error, or returns the values. It lives apart from ``cuda.py`` so
that ``cubin.py`` (which ``cuda.py`` loads) need not import the device module back.
"""

from __future__ import annotations

from ..errors import TargetError


def check(result):
    """The values of a driver call's result tuple (None for none); TargetError on an error."""
    err = result[0]
    if int(err) != 0:
        from cuda.bindings import driver as cu

        _, name = cu.cuGetErrorName(err)
        raise TargetError(f"CUDA call failed: {name.decode() if isinstance(name, bytes) else name}")
    return result[1:] if len(result) > 1 else None
