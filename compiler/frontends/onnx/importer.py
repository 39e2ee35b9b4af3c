"""ONNX ModelProto -> IR Graph.

Checks the graph's structure first (every input produced exactly once, no cycles), imports
every node with its op importer, and reports *all* unsupported operators together before
failing, so a user learns in one run what their model needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import onnx
from onnx import numpy_helper

from ...ir import DType, Graph, Sym, TensorType, Value
from ...ir.dims import Dim, sanitize_symbol
from ...ops import verify
from runtime.errors import CortadoError, ModelFormatError, ShapeError, UnsupportedOpError
from . import ops_elementwise, ops_nn, ops_shape  # noqa: F401  (register importers)
from .context import ImportContext, UnsupportedHere, node_attrs
from .loader import load_model
from .registry import ONNX_OPS

_DEFAULT_DOMAINS = ("", "ai.onnx")


def model_opset(model: onnx.ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in _DEFAULT_DOMAINS:
            return int(o.version)
    return 1 if model.ir_version < 3 else 9


def _tensor_type(vi: onnx.ValueInfoProto, override: Sequence[int] | None, where: str) -> TensorType:
    t = vi.type
    if not t.HasField("tensor_type"):
        raise ModelFormatError(f"input {vi.name!r} is not a tensor (sequences and maps are not supported)", where=where)
    tt = t.tensor_type
    try:
        dtype = DType.from_onnx(tt.elem_type)
    except ValueError:
        raise ModelFormatError(f"input {vi.name!r} has element type {onnx.TensorProto.DataType.Name(tt.elem_type)}, "
                               "which Cortado does not support", where=where) from None
    if override is not None:
        dims = tuple(override)
        declared = len(tt.shape.dim) if tt.HasField("shape") else None
        if declared is not None and declared != len(dims):
            raise ShapeError(f"input_shapes gives {vi.name!r} rank {len(dims)}, but the model declares rank "
                             f"{declared}", where=where)
        for d in dims:
            if isinstance(d, int) and d <= 0:
                raise ShapeError(f"input_shapes gives {vi.name!r} a non-positive dim {d}")
        return TensorType(tuple(Sym(sanitize_symbol(d)) if isinstance(d, str) else int(d) for d in dims), dtype)
    if not tt.HasField("shape"):
        raise ShapeError(f"input {vi.name!r} has no shape", where=where,
                         hint=f"pass input_shapes={{'{vi.name}': (...)}} (CLI: --input {vi.name}=1x3x224x224)")
    dims: list[Dim] = []
    for axis, d in enumerate(tt.shape.dim):
        if d.HasField("dim_value"):
            if d.dim_value <= 0:
                raise ShapeError(f"input {vi.name!r} has dim {d.dim_value} at axis {axis}; dims must be positive",
                                 where=where, hint="give a concrete shape with input_shapes / --input")
            dims.append(int(d.dim_value))
        elif d.dim_param:
            dims.append(Sym(sanitize_symbol(d.dim_param)))
        else:
            dims.append(Sym(sanitize_symbol(f"{vi.name}_{axis}")))
    return TensorType(tuple(dims), dtype)


def _initializer(t: onnx.TensorProto, where: str) -> np.ndarray:
    try:
        arr = numpy_helper.to_array(t)
    except Exception as e:  # onnx raises several types for corrupt tensors
        raise ModelFormatError(f"initializer {t.name!r} cannot be decoded: {e}", where=where) from None
    expected = tuple(int(d) for d in t.dims)
    if any(d < 0 for d in expected) or arr.shape != expected:
        raise ModelFormatError(f"initializer {t.name!r} declares dims {expected} but holds {arr.size} values",
                               where=where)
    return arr


def _sorted_nodes(graph: onnx.GraphProto, known: set[str], where: str) -> list[onnx.NodeProto]:
    """Nodes in a valid order (models are not always stored sorted); cycles and values nobody
    produces are errors naming the node."""
    producer: dict[str, int] = {}
    for i, n in enumerate(graph.node):
        for o in n.output:
            if not o:
                continue
            if o in producer or o in known:
                raise ModelFormatError(f"value {o!r} is produced twice (node {n.name!r} and an earlier definition)",
                                       where=where, hint="every value name must be defined once")
            producer[o] = i
    for i, n in enumerate(graph.node):
        for v in n.input:
            if v and v not in producer and v not in known:
                raise ModelFormatError(f"node {n.name or i!r} ({n.op_type}) reads {v!r}, which no node, input or "
                                       "initializer defines", where=where)
    order, state = [], [0] * len(graph.node)   # 0 new, 1 on stack, 2 done
    for start in range(len(graph.node)):
        if state[start]:
            continue
        stack = [(start, iter([v for v in graph.node[start].input if v in producer]))]
        state[start] = 1
        while stack:
            i, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[i] = 2
                order.append(graph.node[i])
                stack.pop()
                continue
            j = producer[nxt]
            if state[j] == 1:
                n = graph.node[j]
                raise ModelFormatError(f"the graph has a cycle through node {n.name or j!r} ({n.op_type}) and "
                                       f"value {nxt!r}", where=where)
            if state[j] == 0:
                state[j] = 1
                stack.append((j, iter([v for v in graph.node[j].input if v in producer])))
    return order


def import_onnx(source, *, input_shapes: Mapping[str, Sequence] | None = None, name: str | None = None) -> Graph:
    model, folder = load_model(source)
    where = str(source) if isinstance(source, (str, Path)) else (name or "model")
    opset = model_opset(model)
    og = model.graph
    g = Graph(name or og.name or "model")
    g.meta.update(source="onnx", opset=opset, producer=model.producer_name)
    input_shapes = dict(input_shapes or {})

    values: dict[str, Value] = {}
    for t in og.initializer:
        if t.name in values:
            raise ModelFormatError(f"initializer {t.name!r} is defined twice", where=where)
        values[t.name] = g.add_constant(_initializer(t, where), name=t.name)
    for vi in og.input:
        if vi.name in values:
            continue   # an initializer with a default input entry: a constant here
        if vi.name in [v.name for v in g.inputs]:
            raise ModelFormatError(f"graph input {vi.name!r} is listed twice", where=where)
        values[vi.name] = g.add_input(vi.name, _tensor_type(vi, input_shapes.pop(vi.name, None), where))
    if input_shapes:
        raise ShapeError(f"input_shapes names {', '.join(map(repr, input_shapes))}, which the model has no input of",
                         hint=f"the model's inputs are {', '.join(v.name for v in g.inputs)}")

    nodes = _sorted_nodes(og, set(values), where)
    ctx = ImportContext(g, opset, where)
    unsupported: list[tuple[str, str, str]] = []
    poisoned: set[str] = set()
    for node in nodes:
        label = node.name or (node.output[0] if node.output else node.op_type)
        if node.domain not in _DEFAULT_DOMAINS:
            unsupported.append((f"{node.domain}.{node.op_type}", label, f"custom domain {node.domain!r}"))
            poisoned.update(node.output)
            continue
        fn = ONNX_OPS.get(node.op_type)
        if fn is None:
            unsupported.append((node.op_type, label, f"no importer for {node.op_type} (opset {opset})"))
            poisoned.update(node.output)
            continue
        if any(v in poisoned for v in node.input):
            poisoned.update(node.output)
            continue
        ctx.node = node
        try:
            ins = [values[v] if v else None for v in node.input]
            outs = fn(ctx, node, ins, node_attrs(node))
        except UnsupportedHere as e:
            unsupported.append((node.op_type, label, str(e)))
            poisoned.update(node.output)
            continue
        except CortadoError as e:
            raise type(e)(f"node {label!r} ({node.op_type}): {e.message}", where=where, hint=e.hint) from None
        finally:
            ctx.node = None
        for oname, v in zip(node.output, list(outs) + [None] * (len(node.output) - len(outs))):
            if not oname:
                continue
            if v is None:
                poisoned.add(oname)
                continue
            values[oname] = v
    if unsupported:
        raise UnsupportedOpError(unsupported, where=where)

    out_names = [o.name for o in og.output]
    if not out_names:
        raise ModelFormatError("the model has no outputs", where=where)
    for oname in out_names:
        if oname in poisoned or oname not in values:
            raise ModelFormatError(f"graph output {oname!r} is not produced by any node", where=where)
        g.add_output(values[oname], oname)
    g.remove_unused()
    verify(g)
    return g
