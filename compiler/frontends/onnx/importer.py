"""ONNX ModelProto -> IR Graph.

Checks the graph's structure first (every input produced exactly once, no cycles), imports
every node with its op importer, and reports *all* unsupported operators together before
failing, so a user learns in one run what their model needs.

What cannot be imported is tracked per value: a graph input of a type Cortado has no element
type for (strings, float8, sequences) blocks the nodes that read it, and those nodes are
reported with that reason; a node that cannot be imported blocks everything downstream of it
without repeating its reason. A graph input with a static zero-size shape holds no data, so
it becomes an empty constant (ONNX models pass empty ``axes`` or ``roi`` tensors this way).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import onnx
from onnx import numpy_helper

from ...ir import DType, Graph, Sym, TensorType, Value
from ...ir.dims import Dim, sanitize_symbol
from ...ops import verify
from cortado.runtime.errors import CortadoError, ModelFormatError, ShapeError, UnsupportedOpError
from . import ops_elementwise, ops_nn, ops_shape  # noqa: F401  (register importers)
from . import einsum, ops_control, ops_dynamic, ops_gather, ops_misc, ops_norm, ops_quant, ops_reduce, ops_resize, ops_rnn  # noqa: F401
from .context import ImportContext, UnsupportedHere, add_constant, node_attrs
from .functions import expand_function
from .loader import load_model
from .registry import ONNX_OPS
from .subgraph_names import defined_names, rename_graph
from .validate import NodeChecker, blame
from ...limits import check_elements
from ...limits import max_elements as max_elements_limit

_DEFAULT_DOMAINS = ("", "ai.onnx")


def model_opset(model: onnx.ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in _DEFAULT_DOMAINS:
            return int(o.version)
    return 1 if model.ir_version < 3 else 9


class _Unimportable(Exception):
    """A graph input or initializer whose type Cortado cannot represent (the reason)."""


def _elem_name(code: int) -> str:
    try:
        return onnx.TensorProto.DataType.Name(code)
    except ValueError:
        return f"code {code}"


def _tensor_type(vi: onnx.ValueInfoProto, override: Sequence[int] | None, where: str) -> TensorType:
    t = vi.type
    if not t.HasField("tensor_type"):
        kind = t.WhichOneof("value") or "untyped"
        raise _Unimportable(f"graph input {vi.name!r} is a {kind.replace('_type', '')}, not a tensor "
                            "(sequences, maps and optionals are not supported)")
    tt = t.tensor_type
    try:
        dtype = DType.from_onnx(tt.elem_type)
    except ValueError:
        raise _Unimportable(f"graph input {vi.name!r} has element type {_elem_name(tt.elem_type)}, "
                            "which Cortado does not support") from None
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
                         hint=f"pass input_shapes={{'{vi.name}': (...)}} (CLI: --shape {vi.name}=1x3x224x224)")
    dims: list[Dim] = []
    for axis, d in enumerate(tt.shape.dim):
        if d.HasField("dim_value"):
            if d.dim_value < 0:
                raise ShapeError(f"input {vi.name!r} has dim {d.dim_value} at axis {axis}; dims must not be negative",
                                 where=where, hint="give a concrete shape with input_shapes / --shape")
            dims.append(int(d.dim_value))
        elif d.dim_param:
            dims.append(Sym(sanitize_symbol(d.dim_param)))
        else:
            dims.append(Sym(sanitize_symbol(f"{vi.name}_{axis}")))
    return TensorType(tuple(dims), dtype)


def _initializer(t: onnx.TensorProto, where: str) -> np.ndarray:
    expected = tuple(int(d) for d in t.dims)
    if any(d < 0 for d in expected):
        raise ModelFormatError(f"initializer {t.name!r} has negative dims {expected}", where=where)
    if t.data_type == onnx.TensorProto.STRING or not _known_code(t.data_type):
        raise _Unimportable(f"initializer {t.name!r} has element type {_elem_name(t.data_type)}, "
                            "which Cortado does not support")
    try:
        arr = numpy_helper.to_array(t)
    except Exception as e:  # onnx raises several types for corrupt tensors
        raise ModelFormatError(f"initializer {t.name!r} cannot be decoded: {e}", where=where) from None
    if arr.shape != expected:
        raise ModelFormatError(f"initializer {t.name!r} declares dims {expected} but holds {arr.size} values",
                               where=where)
    return arr


def _known_code(code: int) -> bool:
    try:
        DType.from_onnx(code)
        return True
    except ValueError:
        return False


def _sorted_nodes(graph: onnx.GraphProto, known: set[str], where: str) -> list[onnx.NodeProto]:
    """Nodes in a valid order (models are not always stored sorted); cycles and values nobody
    produces are errors naming the node."""
    producer: dict[str, int] = {}
    for i, n in enumerate(graph.node):
        for o in n.output:
            if not o:
                continue
            if o in producer or o in known:
                first = graph.node[producer[o]].name if o in producer else "a graph input or initializer"
                raise ModelFormatError(f"value {o!r} is produced twice (by node {n.name or i!r} and by {first!r})",
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


def import_subgraph(ctx: ImportContext, graph: onnx.GraphProto, values: dict, blocked: dict, bind: list, prefix: str,
                    what: str) -> list:
    """Import ``graph`` (a control-flow body) into ``ctx.graph`` with its formal inputs bound to
    ``bind`` and the names it defines prefixed with ``prefix``; returns its output values."""
    own = defined_names(graph)
    g = rename_graph(graph, lambda n: prefix + n if n in own else n)
    if len(bind) > len(g.input):
        raise UnsupportedHere(f"{what} binds {len(bind)} inputs to a body of {len(g.input)}")
    for vi, v in zip(g.input, bind):
        values[vi.name] = v
    for t in g.initializer:
        values[t.name] = add_constant(ctx.graph, _initializer(t, ctx.where), name=t.name)
    nodes = _sorted_nodes(g, set(values) | set(blocked), ctx.where)
    problems: list = []
    import_nodes(ctx, nodes, values, blocked, problems)
    if problems:
        raise UnsupportedHere(f"{what}: " + "; ".join(f"{op}: {why}" for op, _, why in problems[:3]))
    outs = []
    for vi in g.output:
        if vi.name not in values:
            raise UnsupportedHere(f"{what} does not compute {vi.name!r}")
        outs.append(values[vi.name])
    return outs


def node_key(node: onnx.NodeProto) -> tuple:
    """Identifies a node of one graph: its op and its (unique) output names."""
    return (node.op_type, tuple(node.output))


def node_label(node: onnx.NodeProto) -> str:
    return node.name or (node.output[0] if node.output else node.op_type)


def import_nodes(ctx: ImportContext, nodes: Sequence[onnx.NodeProto], values: dict[str, Value],
                 blocked: dict[str, str | None], unsupported: list[tuple[str, str, str]],
                 statuses: dict | None = None) -> None:
    """Import ``nodes`` (in order) into ``ctx.graph``, extending ``values``.

    ``blocked`` maps value names that cannot be imported to the reason (None when the node
    that should have produced it was already reported). ``statuses``, when given, receives
    ``id(node) -> reason or None`` for ``cortado check``.
    """
    for node in nodes:
        label = node_label(node)
        why = _import_one(ctx, node, label, values, blocked, expand_function)
        if why is not None:
            if why:
                unsupported.append((node.op_type if node.domain in _DEFAULT_DOMAINS else f"{node.domain}.{node.op_type}",
                                    label, why))
            for o in node.output:
                if o:
                    blocked[o] = None
        if statuses is not None:
            statuses[node_key(node)] = why


def _import_one(ctx, node, label, values, blocked, expand_function) -> str | None:
    """None when imported; else the reason ('' when an upstream problem was already reported)."""
    for v in node.input:
        if v in blocked:
            reason = blocked[v]
            return f"input {v!r}: {reason}" if reason else ""
    if node.domain not in _DEFAULT_DOMAINS:
        return f"custom domain {node.domain!r}"
    fn = ONNX_OPS.get(node.op_type)
    node_checker = getattr(ctx, "node_checker", None)
    if node_checker is not None:     # input counts and attribute types, before an importer reads them
        node_checker.check(node, label, ctx.where, ctx.opset)
    saved = ctx.node
    ctx.node = node
    try:
        ins = [values[v] if v else None for v in node.input]
        attrs = node_attrs(node)
        if fn is None:
            outs = expand_function(ctx, node, ins, values, blocked)
        else:
            outs = fn(ctx, node, ins, attrs)
    except UnsupportedHere as e:
        return str(e) or f"{node.op_type} is not supported here"
    except CortadoError as e:
        if getattr(e, "_labelled", False):
            raise
        err = type(e)(f"node {label!r} ({node.op_type}): {e.message}", where=ctx.where, hint=e.hint)
        err._labelled = True
        raise err from None
    except Exception as e:
        # a malformed node an importer did not expect (ONNX's shape inference decides); on a
        # valid model the exception is a bug in Cortado and keeps its traceback
        err = blame(getattr(ctx, "model", None), node, label, ctx.where, e)
        if err is None:
            raise
        err._labelled = True
        raise err from None
    finally:
        ctx.node = saved
    outs = list(outs)
    for oname, v in zip(node.output, outs + [None] * (len(node.output) - len(outs))):
        if not oname:
            continue
        if v is None:
            blocked[oname] = f"output {oname!r} of {node.op_type} is not produced by Cortado's import"
            continue
        values[oname] = v
    return None


def import_onnx(source, *, input_shapes: Mapping[str, Sequence] | None = None, name: str | None = None,
                _statuses: dict | None = None, max_elements: int | None = None) -> Graph:
    """``max_elements`` (see ``cortado.limits``) bounds every value, checked as each node is
    added, before any importer computes a constant of that size."""
    limit = max_elements_limit(max_elements)
    model, folder = load_model(source, limit)
    where = str(source) if isinstance(source, (str, Path)) else (name or "model")
    opset = model_opset(model)
    og = model.graph
    g = Graph(name or og.name or "model")
    g.meta.update(source="onnx", opset=opset, producer=model.producer_name, max_elements=limit)
    input_shapes = dict(input_shapes or {})

    values: dict[str, Value] = {}
    blocked: dict[str, str | None] = {}
    inits = set()
    for t in og.initializer:
        if t.name in inits:
            raise ModelFormatError(f"initializer {t.name!r} is defined twice", where=where)
        inits.add(t.name)
        try:
            array = _initializer(t, where)
            check_elements(array.shape, f"initializer {t.name!r}", limit, where=where)
            values[t.name] = add_constant(g, array, name=t.name)
        except _Unimportable as e:
            blocked[t.name] = str(e)
    seen_inputs: set[str] = set()
    for vi in og.input:
        if vi.name in inits:
            continue   # an initializer with a default input entry: a constant here
        if vi.name in seen_inputs:
            raise ModelFormatError(f"graph input {vi.name!r} is listed twice", where=where)
        seen_inputs.add(vi.name)
        try:
            t = _tensor_type(vi, input_shapes.pop(vi.name, None), where)
            check_elements(t.shape, f"input {vi.name!r}", limit, where=where)
        except _Unimportable as e:
            blocked[vi.name] = str(e)
            continue
        if t.is_static and t.numel == 0:
            values[vi.name] = add_constant(g, np.zeros(t.shape, dtype=t.dtype.numpy), name=vi.name)
            continue
        values[vi.name] = g.add_input(vi.name, t)
    if input_shapes:
        raise ShapeError(f"input_shapes names {', '.join(map(repr, input_shapes))}, which the model has no input of",
                         hint=f"the model's inputs are {', '.join(v.name for v in g.inputs)}")

    out_names = [o.name for o in og.output]
    if not out_names:
        raise ModelFormatError("the model has no outputs", where=where)
    dup = sorted({n for n in out_names if out_names.count(n) > 1})
    if dup:
        raise ModelFormatError(f"graph output {dup[0]!r} is listed {out_names.count(dup[0])} times", where=where,
                               hint="each graph output needs its own name")

    nodes = _sorted_nodes(og, set(values) | set(blocked), where)
    ctx = ImportContext(g, opset, where)
    ctx.node_checker = NodeChecker(model)
    ctx.model = model
    ctx.folder = folder
    ctx.values, ctx.blocked = values, blocked     # control-flow bodies import into the same scope
    ctx.connect(import_nodes=functools.partial(import_nodes, ctx), import_subgraph=functools.partial(import_subgraph, ctx),
                import_model=import_onnx)
    unsupported: list[tuple[str, str, str]] = []
    import_nodes(ctx, nodes, values, blocked, unsupported, _statuses)
    for oname in out_names:
        if blocked.get(oname):
            unsupported.append(("<output>", oname, blocked[oname]))
    if unsupported:
        raise UnsupportedOpError(unsupported, where=where)

    for oname in out_names:
        if oname not in values:
            raise ModelFormatError(f"graph output {oname!r} is not produced by any node", where=where)
        g.add_output(values[oname], oname)
    g.remove_unused()
    verify(g)
    return g
