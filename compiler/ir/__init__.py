"""The Cortado IR: graphs of typed values and ONNX-named operators.

Public so that users can write and test their own passes (see ``cortado.testing``)."""

from .clone import clone_graph
from .dims import Dim, Sym, SymExpr, is_static, prod, sanitize_symbol
from .dtypes import DType
from .graph import Graph, IRError, Node, Value
from .nxview import to_networkx
from .opnames import Op
from .printer import format_graph
from .types import TensorType
from .verify import VerificationError, verify_structure

__all__ = [
    "Dim", "DType", "clone_graph", "Graph", "IRError", "Node", "Op", "Sym", "SymExpr", "TensorType", "Value",
    "VerificationError", "format_graph", "is_static", "prod", "sanitize_symbol", "to_networkx",
    "verify_structure",
]
