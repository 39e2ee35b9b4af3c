"""Cortado: compile ONNX and Caffe models into fused Triton kernels.

    import compiler
    m = compiler.compile("model.onnx")
    y = m(x)
"""

from runtime.errors import CortadoError

from . import errors, ir
from .driver import compile, load_graph
from .jit import jit

__all__ = ["CortadoError", "compile", "errors", "ir", "load_graph"]
__version__ = "0.1.0"
