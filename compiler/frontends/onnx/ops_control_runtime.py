"""Control flow decided at run time: ``If`` whose condition is data and ``Loop`` whose trip
count or condition is data. Each body becomes an IR graph of its own (imported from the body
``GraphProto`` as a small model whose inputs are the body's formal inputs and the enclosing
values it reads), held by an IR ``If`` / ``Loop`` node (``cortado.ops.control``); the driver
compiles each body once into a sub-plan, and the runtime runs it (``runtime/control.py``).
Control flow known at compile time keeps ``ops_control``'s inlining and unrolling.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ...ir import DType, Graph, Op, SymExpr, TensorType, Value
from ...ops.dynamic import fresh_symbol
from cortado.runtime.errors import CortadoError
from .context import UnsupportedHere
from .subgraph_names import defined_names


def free_names(graph: onnx.GraphProto) -> list[str]:
    """Enclosing-scope names ``graph`` reads (nested bodies included), in first-use order."""
    own = defined_names(graph)
    out: list[str] = []

    def use(name: str) -> None:
        if name and name not in own and name not in out:
            out.append(name)
    for n in graph.node:
        for i in n.input:
            use(i)
        for a in n.attribute:
            subs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
            for sub in subs:
                for i in free_names(sub):
                    use(i)
    for vi in graph.output:
        use(vi.name)
    return out


def _info(name: str, t: TensorType):
    return helper.make_tensor_value_info(name, t.dtype.onnx_code, [d if isinstance(d, int) else str(d)
                                                                   for d in t.shape])


def body_graph(ctx, body: onnx.GraphProto, formal: list[TensorType], captured: list[str], what: str) -> Graph:
    """``body`` as an IR graph whose inputs are its formal inputs (typed ``formal``) then the
    non-constant ``captured`` enclosing values; captured constants become its own weights."""
    if len(formal) != len(body.input):
        raise UnsupportedHere(f"{what} declares {len(body.input)} inputs, expected {len(formal)}")
    inputs = [_info(vi.name, t) for vi, t in zip(body.input, formal)]
    inits = list(body.initializer)
    for name in captured:
        v = ctx.values[name]
        if v.const is not None:
            inits.append(numpy_helper.from_array(np.asarray(v.const), name))
        else:
            inputs.append(_info(name, v.type))
    g = helper.make_graph(list(body.node), body.name or "body", inputs, list(body.output), inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", ctx.opset)])
    try:
        return ctx.import_model(model, name=f"{ctx.node.name or ctx.node.op_type}_{body.name or 'body'}")
    except CortadoError as e:
        raise UnsupportedHere(f"{what}: {e.message}") from None


def captures(ctx, names: list[str], what: str) -> list[str]:
    for n in names:
        if n not in ctx.values:
            why = ctx.blocked.get(n)
            raise UnsupportedHere(f"{what} reads {n!r}" + (f", which cannot be imported ({why})" if why else
                                                          ", which is not defined"))
    return names


def _outer_type(t: TensorType, known: set[str], fresh, stem: str) -> TensorType:
    """A body output type in the enclosing graph: dims over the enclosing symbols kept, others
    (the body's own run-time sizes) fresh symbols."""
    dims = []
    for d in t.shape:
        if isinstance(d, SymExpr) and not d.symbols() <= known:
            d = SymExpr.symbol(fresh(stem))
        dims.append(d)
    return TensorType(tuple(dims), t.dtype)


def _known(values: list[Value]) -> set[str]:
    return {s for v in values for d in v.shape if isinstance(d, SymExpr) for s in d.symbols()}


def runtime_if(ctx, node, inputs, attrs) -> list[Value]:
    cond = inputs[0]
    names = captures(ctx, [n for n in dict.fromkeys(free_names(attrs["then_branch"]) +
                                                     free_names(attrs["else_branch"]))], "If")
    then_g = body_graph(ctx, attrs["then_branch"], [], names, "the then branch of If")
    else_g = body_graph(ctx, attrs["else_branch"], [], names, "the else branch of If")
    outer = [ctx.values[n] for n in names if ctx.values[n].const is None]
    known = _known(outer)
    counts: list[str] = []

    def fresh(stem):
        counts.append(fresh_symbol(ctx.graph, stem))
        return counts[-1]
    out_types = []
    for a, b in zip(then_g.outputs, else_g.outputs):
        if a.type.rank != b.type.rank or a.dtype is not b.dtype:
            raise UnsupportedHere(f"If's branches give {a.type} and {b.type}: rank and element type must agree")
        dims = []
        for da, db in zip(a.shape, b.shape):
            same = da == db and (isinstance(da, int) or da.symbols() <= known)
            dims.append(da if same else SymExpr.symbol(fresh("branch")))
        out_types.append(TensorType(tuple(dims), a.dtype))
    if len(then_g.outputs) != len(else_g.outputs):
        raise UnsupportedHere("If's branches give different numbers of outputs")
    return ctx.op_all(Op.IF, [cond, *outer], then_graph=then_g, else_graph=else_g, out_types=tuple(out_types),
                      counts=tuple(counts))


def runtime_loop(ctx, node, inputs, attrs) -> list[Value]:
    body = attrs["body"]
    trip = inputs[0] if inputs and inputs[0] is not None else ctx.const(np.array(np.iinfo(np.int64).max, np.int64))
    cond = inputs[1] if len(inputs) > 1 and inputs[1] is not None else ctx.const(np.array(True))
    state = list(inputs[2:])
    if any(v is None for v in state):
        raise UnsupportedHere("Loop with an omitted loop-carried input")
    formal_names = {vi.name for vi in body.input}
    names = captures(ctx, [n for n in free_names(body) if n not in formal_names], "Loop's body")
    formal = [TensorType((), DType.INT64), TensorType((), DType.BOOL)] + [v.type for v in state]
    g = body_graph(ctx, body, formal, names, "Loop's body")
    n = len(state)
    if len(g.outputs) < 1 + n:
        raise UnsupportedHere(f"Loop's body gives {len(g.outputs)} outputs for {n} loop-carried values")
    for k in range(n):
        if g.outputs[1 + k].type != g.inputs[2 + k].type:
            raise UnsupportedHere(f"Loop-carried value #{k} changes type in the body ({g.inputs[2 + k].type} -> "
                                  f"{g.outputs[1 + k].type}); Cortado needs loop-carried shapes that stay the same")
    outer = [ctx.values[x] for x in names if ctx.values[x].const is None]
    known = _known(outer + state)
    counts = [fresh_symbol(ctx.graph, "trips")]

    def fresh(stem):
        counts.append(fresh_symbol(ctx.graph, stem))
        return counts[-1]
    scans = []
    for v in g.outputs[1 + n:]:
        t = _outer_type(v.type, known, fresh, "scan")
        scans.append(TensorType((SymExpr.symbol(counts[0]),) + t.shape, t.dtype))
    if trip.dtype is not DType.INT64 or cond.dtype is not DType.BOOL:
        raise UnsupportedHere("Loop takes an int64 trip count and a bool condition")
    return ctx.op_all(Op.LOOP, [trip, cond, *state, *outer], body=g, carried=n,
                      out_types=tuple([v.type for v in state] + scans), counts=tuple(counts))


def runtime_scan(ctx, node, inputs, attrs, state: list, xs: list, in_axes: list, in_dirs: list,
                 out_axes: list, out_dirs: list) -> list[Value]:
    """A Scan over a length known only at run time: the body once per slice, as a sub-plan."""
    body = attrs["body"]
    if any(v is None for v in state + xs):
        raise UnsupportedHere("Scan with an omitted input")
    lengths = {x.shape[a] for x, a in zip(xs, in_axes)}
    if len(lengths) != 1:
        raise UnsupportedHere("Scan's inputs must have one scan length")
    length = lengths.pop()
    formal = [v.type for v in state] + [TensorType(tuple(d for j, d in enumerate(x.shape) if j != a), x.dtype)
                                        for x, a in zip(xs, in_axes)]
    names = captures(ctx, [n for n in free_names(body) if n not in {vi.name for vi in body.input}], "Scan's body")
    g = body_graph(ctx, body, formal, names, "Scan's body")
    n = len(state)
    for k in range(n):
        if g.outputs[k].type != g.inputs[k].type:
            raise UnsupportedHere(f"Scan state #{k} changes type in the body ({g.inputs[k].type} -> "
                                  f"{g.outputs[k].type})")
    outer = [ctx.values[x] for x in names if ctx.values[x].const is None]
    known = _known(outer + state + xs)
    counts: list[str] = []

    def fresh(stem):
        counts.append(fresh_symbol(ctx.graph, stem))
        return counts[-1]
    outs = []
    for k, v in enumerate(g.outputs[n:]):
        t = _outer_type(v.type, known, fresh, "scan")
        axis = out_axes[k] % (t.rank + 1)
        shape = list(t.shape)
        shape.insert(axis, length)
        outs.append(TensorType(tuple(shape), t.dtype))
    out_axes = [a % (o.rank) for a, o in zip(out_axes, outs)]
    return ctx.op_all(Op.SCAN, [*state, *xs, *outer], body=g, state=n, scan_inputs=len(xs), in_axes=tuple(in_axes),
                      in_dirs=tuple(in_dirs), out_axes=tuple(out_axes), out_dirs=tuple(out_dirs),
                      out_types=tuple([v.type for v in state] + outs), counts=tuple(counts))
