"""The state an ONNX op importer works with: the graph being built, the opset, constants,
and *shape data* — the symbolic contents of small int tensors (Shape -> Gather -> Concat)
that exporters compute shapes with.

Shape data lets ``Reshape(x, Concat(Shape(x)[0], 12))`` import as a Reshape to ``(N, 12)``
even when N is a dynamic batch: the IR keeps shape-like operands as attributes, so a compiled
model serves every batch size.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import onnx

from ...ir import DType, Graph, Node, Value
from ...ir.dims import Dim, SymExpr
from ...ops import apply
from cortado.runtime.errors import ModelFormatError


class UnsupportedHere(Exception):
    """Raised by an importer: this node cannot be imported (the reason is the message)."""


class ImportContext:
    def __init__(self, graph: Graph, opset: int, where: str):
        self.graph = graph
        self.opset = opset
        self.where = where
        self.symdata: dict[int, list[Dim]] = {}
        self.node: onnx.NodeProto | None = None
        self.folder = None          # the model's folder (external data), None for in-memory models
        self.values: dict = {}      # ONNX name -> Value, and names that cannot be imported (see importer)
        self.blocked: dict = {}
        # the importer's own entry points, for what imports a graph inside a node (control-flow
        # bodies, ONNX function bodies); handed over by ``connect`` so op importers need not
        # import the importer, which imports them
        self.import_nodes = self.import_subgraph = self.import_model = self._unconnected

    def connect(self, *, import_nodes, import_subgraph, import_model) -> None:
        """``import_nodes(nodes, values, blocked, problems)``, ``import_subgraph(graph, values,
        blocked, bind, prefix, what) -> outputs`` (both into this context's graph) and
        ``import_model(model, name=) -> Graph`` (a body compiled as a graph of its own)."""
        self.import_nodes, self.import_subgraph, self.import_model = import_nodes, import_subgraph, import_model

    @staticmethod
    def _unconnected(*args, **kwargs):
        raise UnsupportedHere("this node imports a subgraph, which needs a context made by import_onnx")

    # -- building -----------------------------------------------------------------------------
    def op(self, op, inputs: Sequence[Value | None], *, name: str | None = None, outputs: Sequence[str] | None = None,
           **attrs) -> Value:
        """Add an IR node for the ONNX node being imported; returns its (first) output."""
        nm = name or (self.node.name if self.node is not None and self.node.name else "")
        n = apply(self.graph, op, inputs, name=nm, output_names=outputs, **attrs)
        if self.node is not None:
            n.meta["onnx_op"] = self.node.op_type
            n.meta["onnx_name"] = self.node.name
        return self._fold_shape_math(n) or n.outputs[0]

    def _fold_shape_math(self, n: Node) -> Value | None:
        """Small results of constant inputs (at most 64 elements) become constants at once, so
        arguments computed in the model (Concat of Constants, a Cast of a scalar, Mul) stay
        compile-time known. Larger constant math is left to the constant-folding pass."""
        out = n.outputs[0]
        if len(n.outputs) != 1 or not out.type.is_static or out.type.numel > 64:
            return None
        if not all(v is None or v.const is not None for v in n.inputs):
            return None
        from ...ops import run_reference
        try:
            with np.errstate(all="ignore"):
                (value,) = run_reference(n, [None if v is None else v.const for v in n.inputs])
        except Exception:
            return None
        return self.const(value, name=out.name + "_value")

    def op_all(self, op, inputs: Sequence[Value | None], **attrs) -> list[Value]:
        """Like ``op`` for ops with several outputs: returns all of them."""
        nm = self.node.name if self.node is not None and self.node.name else ""
        n = apply(self.graph, op, inputs, name=nm, **attrs)
        if self.node is not None:
            n.meta["onnx_op"] = self.node.op_type
            n.meta["onnx_name"] = self.node.name
        return list(n.outputs)

    def node_of(self, v: Value) -> Node:
        return v.producer

    def const(self, array, name: str = "const", dtype: DType | None = None) -> Value:
        return add_constant(self.graph, array, name=name, dtype=dtype)

    # -- static values ----------------------------------------------------------------------------
    def constant(self, v: Value | None) -> np.ndarray | None:
        if v is None:
            return None
        return v.const

    def ints(self, v: Value | None, what: str) -> list[Dim]:
        """The contents of a 1-D/scalar int tensor known before run time (constant or shape data)."""
        if v is None:
            raise UnsupportedHere(f"{what} is missing")
        if v.const is not None:
            return [int(x) for x in np.asarray(v.const).reshape(-1).tolist()]
        data = self.symdata.get(id(v))
        if data is not None:
            return list(data)
        raise UnsupportedHere(f"{what} must be known at compile time (a constant or computed from shapes); "
                              f"'{v.name}' depends on tensor data")

    def dtype(self, code: int, what: str = "element type") -> DType:
        """The IR element type for an ONNX type code; unsupported ones (string, float8, int4)
        make the node unsupported rather than failing the import."""
        try:
            return DType.from_onnx(int(code))
        except ValueError:
            try:
                name = onnx.TensorProto.DataType.Name(int(code))
            except ValueError:
                name = f"code {code}"
            raise UnsupportedHere(f"{what}: element type {name} is not supported") from None

    def floats(self, v: Value | None, what: str) -> list[float]:
        if v is None:
            raise UnsupportedHere(f"{what} is missing")
        if v.const is None:
            raise UnsupportedHere(f"{what} must be known at compile time (a constant); '{v.name}' depends on "
                                  "tensor data")
        return [float(x) for x in np.asarray(v.const).reshape(-1).tolist()]

    def scalar(self, v: Value | None, what: str):
        if v is None:
            raise UnsupportedHere(f"{what} is missing")
        if v.const is None:
            raise UnsupportedHere(f"{what} must be known at compile time (a constant scalar); '{v.name}' depends "
                                  "on tensor data")
        if v.const.size != 1:
            raise UnsupportedHere(f"{what} must be a scalar, got shape {v.const.shape}")
        return v.const.reshape(()).item()

    def set_symdata(self, v: Value, data: Sequence[Dim]) -> None:
        data = list(data)
        self.symdata[id(v)] = data

    def static_or_shape(self, v: Value, data: Sequence[Dim], dtype=np.int64) -> Value:
        """Replace ``v`` by a constant when its shape data is fully static (helps folding)."""
        if all(isinstance(d, int) for d in data):
            c = self.const(np.array(data, dtype=v.dtype.numpy).reshape(v.shape), name=v.name + "_value")
            return c
        self.set_symdata(v, data)
        return v


def add_constant(graph: Graph, array, name: str = "const", dtype: DType | None = None) -> Value:
    """``graph.add_constant`` keeping 0-d arrays 0-d (``np.ascontiguousarray`` makes them 1-d)."""
    arr = np.asarray(array)
    v = graph.add_constant(arr, name=name, dtype=dtype)
    if v.const.shape != arr.shape:
        fixed = v.const.reshape(arr.shape)
        fixed.setflags(write=False)
        v.const = fixed
        v.type = v.type.with_shape(arr.shape)
    return v


def attr_value(a: onnx.AttributeProto):
    """A Python value for an ONNX attribute."""
    from onnx import helper, numpy_helper

    if a.type == onnx.AttributeProto.TENSOR:
        try:
            DType.from_onnx(a.t.data_type)
        except ValueError:
            raise UnsupportedHere(f"attribute {a.name!r} holds a tensor of element type "
                                  f"{onnx.TensorProto.DataType.Name(a.t.data_type)}, which is not supported") from None
        return numpy_helper.to_array(a.t)
    if a.type == onnx.AttributeProto.GRAPH:
        return a.g      # a subgraph: only control-flow importers (If, Loop, Scan) read it
    if a.type == onnx.AttributeProto.SPARSE_TENSOR:
        raise UnsupportedHere(f"attribute {a.name!r} holds a sparse tensor")
    v = helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, list):
        return tuple(x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v)
    return v


def node_attrs(node: onnx.NodeProto) -> dict:
    out = {}
    for a in node.attribute:
        if a.name in out:
            raise ModelFormatError(f"node {node.name!r} ({node.op_type}) has attribute {a.name!r} twice")
        out[a.name] = attr_value(a)
    return out


def is_sym(d) -> bool:
    return isinstance(d, SymExpr)
