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
import sys
import types

from cortado.runtime.errors import CortadoError

_LAZY = {
    "compile": ("cortado.driver", "compile"),
    "load_graph": ("cortado.driver", "load_graph"),
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


class _Package(types.ModuleType):
    """``cortado.jit`` is the decorator, although a subpackage of that name exists.

    Importing ``cortado.jit.<anything>`` makes the import system set the package attribute
    ``jit`` to the subpackage; the decorator must win, so the attribute is a property whose
    setter ignores that assignment.
    """

    @property
    def jit(self):
        return importlib.import_module("cortado.jit").jit

    @jit.setter
    def jit(self, value):
        if not isinstance(value, types.ModuleType):
            raise AttributeError("cortado.jit is the JIT decorator and cannot be replaced")


sys.modules[__name__].__class__ = _Package
