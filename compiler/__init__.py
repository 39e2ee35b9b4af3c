"""Cortado: compile ONNX and Caffe models into fused Triton kernels.

    import cortado
    m = cortado.compile("model.onnx")
    y = m(x)

The compiler's names are loaded on first use (PEP 562), so ``import cortado.runtime`` on a
serving machine and ``cortado --help`` import neither onnx, networkx, lark nor triton.
"""

from __future__ import annotations

if __name__ != "cortado":  # the pre-namespace name, reachable only from a source checkout
    from cortado.legacy_names import alias_old_name

    alias_old_name(__name__)

import importlib

from cortado.runtime.errors import CortadoError

_LAZY = {
    "compile": ("cortado.driver", "compile"),
    "load_graph": ("cortado.driver", "load_graph"),
    "jit": ("cortado.jit", "jit"),
}
_SUBMODULES = ("errors", "ir", "ops", "testing", "runtime")

__all__ = ["CortadoError", "compile", "errors", "ir", "jit", "load_graph", "runtime", "testing"]
__version__ = "0.1.0"

def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'cortado' has no attribute {name!r}")
    globals()[name] = value
    return value

def __dir__():
    return sorted(set(globals()) | set(__all__))
