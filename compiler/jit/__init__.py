"""``cortado.jit``: numpy functions compiled into fused Triton kernels.

    import numpy as np, cortado

    @cortado.jit
    def softmax(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    y = softmax(np.random.rand(8, 128).astype(np.float32))   # traced, compiled, run; cached

See ``api.py`` for the decorator and cache, ``tracer.py`` for what a traced array supports,
``symbolic.py`` for ``dynamic=True``, and ``raising.py`` for the idioms that become fused ops.
"""

from .api import CacheInfo, JitFunction, Lowered, jit
from .errors import JitError, TracerConversionError, UnsupportedFunctionError
from .tracer import Tracer

__all__ = ["CacheInfo", "JitError", "JitFunction", "Lowered", "Tracer", "TracerConversionError",
           "UnsupportedFunctionError", "jit"]
