"""Ops without an importer of their own, imported through their ONNX function body.

Many ONNX ops are defined by a *function*: a small graph of primitive ops in the op's schema
(RMSNormalization, RotaryEmbedding, Attention, Swish, ...), some of them generated for the
node's attributes and input types (context-dependent functions). When no importer claims an
op, the frontend expands the node into that body — attribute references resolved, internal
values renamed apart — and imports the primitives. If a primitive of the body is itself
unsupported, the node is reported unsupported with that reason.
"""

from __future__ import annotations

import itertools

import onnx
from onnx import helper

from .context import UnsupportedHere
from .subgraph_names import rename_graph

_counter = itertools.count()


def _type_proto(v) -> onnx.TypeProto:
    if v is None:
        return onnx.TypeProto()
    dims = [d if isinstance(d, int) else str(d) for d in v.shape]
    return helper.make_tensor_type_proto(v.dtype.onnx_code, dims)


def function_body(node: onnx.NodeProto, opset: int, inputs) -> onnx.FunctionProto | None:
    """The function body of ``node`` at ``opset`` (None when the op has none)."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, domain="")
    except onnx.defs.SchemaError:
        return None
    fn = onnx.FunctionProto()
    versions = [v for v in schema.function_opset_versions if v <= opset]
    if versions:
        fn.ParseFromString(schema.get_function_with_opset_version(max(versions)))
        return fn
    versions = [v for v in schema.context_dependent_function_opset_versions if v <= opset]
    if versions:
        node = _with_defaults(node, schema)
        data = schema.get_context_dependent_function_with_opset_version(
            max(versions), node.SerializeToString(), [_type_proto(v).SerializeToString() for v in inputs])
        if not data:
            return None
        fn.ParseFromString(data)
        return fn
    return None


def _with_defaults(node: onnx.NodeProto, schema) -> onnx.NodeProto:
    out = onnx.NodeProto()
    out.CopyFrom(node)
    present = {a.name for a in node.attribute}
    for name, attr in schema.attributes.items():
        if name not in present and attr.default_value.name:
            out.attribute.append(attr.default_value)
    return out


def _expand(node: onnx.NodeProto, fn: onnx.FunctionProto, schema, prefix: str) -> list[onnx.NodeProto]:
    attrs = {a.name: a for a in _with_defaults(node, schema).attribute}
    names = {}
    for i, name in enumerate(fn.input):
        names[name] = node.input[i] if i < len(node.input) else ""
    for i, name in enumerate(fn.output):
        if i < len(node.output) and node.output[i]:
            names[name] = node.output[i]

    def rename(n: str) -> str:
        if not n:
            return ""
        return names.get(n, prefix + n)

    out = []
    for inner in fn.node:
        new = onnx.NodeProto()
        new.CopyFrom(inner)
        del new.input[:]
        del new.output[:]
        del new.attribute[:]
        new.input.extend(rename(n) for n in inner.input)
        new.output.extend(rename(n) for n in inner.output)
        new.name = prefix + (inner.name or inner.op_type)
        for a in inner.attribute:
            if a.ref_attr_name:
                if a.ref_attr_name in attrs:
                    ref = onnx.AttributeProto()
                    ref.CopyFrom(attrs[a.ref_attr_name])
                    ref.name = a.name
                    new.attribute.append(ref)
            else:
                new.attribute.append(a)
        for a in new.attribute:
            if a.type == onnx.AttributeProto.GRAPH:     # a body reads the function's names: rename them too
                a.g.CopyFrom(rename_graph(a.g, rename))
        out.append(new)
    return out


def expand_function(ctx, node: onnx.NodeProto, inputs, values: dict, blocked: dict) -> list:
    fn = function_body(node, ctx.opset, inputs)
    if fn is None:
        raise UnsupportedHere(f"no importer for {node.op_type} (opset {ctx.opset})")
    schema = onnx.defs.get_schema(node.op_type, ctx.opset, domain="")
    prefix = f"{node.name or node.op_type}__fn{next(_counter)}__"
    body = _expand(node, fn, schema, prefix)
    inner_opset = next((o.version for o in fn.opset_import if o.domain in ("", "ai.onnx")), ctx.opset)
    saved = ctx.opset
    ctx.opset = inner_opset
    problems: list = []
    try:
        ctx.import_nodes(body, values, blocked, problems)
    finally:
        ctx.opset = saved
    if problems:
        inner = "; ".join(f"{op}: {why}" for op, _, why in problems[:3])
        raise UnsupportedHere(f"{node.op_type} is imported through its ONNX function, which needs: {inner}")
    outs = []
    for o in node.output:
        if not o:
            outs.append(None)
        elif o in values:
            outs.append(values[o])
        else:
            raise UnsupportedHere(f"the function body of {node.op_type} does not compute output {o!r}")
    return outs
