"""IR Graph -> ONNX ModelProto.

One emitter per IR op (``@emits(Op.X)``) turns a node into ONNX nodes. Most IR ops carry
exactly ONNX's attributes under ONNX's names (the IR is canonical ONNX), so a table of
"plain" ops copies them; ops whose ONNX form takes shape-like *inputs* (Reshape's shape,
Clip's bounds, ConstantOfShape's shape, Slice's starts...) get small emitters that turn the
IR's attributes back into int64 initializers. The opset is the lowest that expresses every
node (17 unless a node needs more). Unsupported ops are reported all together.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..ir import DType, Graph, Node, Op, Value
from ..ir.dims import SymExpr
from cortado.runtime.errors import ShapeError, UnsupportedOpError

from . import onnx_export_ops  # noqa: F401  (registers the shape-input emitters)
from .onnx_registry import BASE_OPSET, EMITTERS as _EMITTERS, emits, min_opset, needed_opset

__all__ = ["export_onnx", "exportable_ops"]

# IR ops whose attributes are ONNX attributes with the same names and meanings
_PLAIN = {
    Op.ABS, Op.NEG, Op.EXP, Op.LOG, Op.SQRT, Op.RECIPROCAL, Op.FLOOR, Op.CEIL, Op.ROUND, Op.SIGN, Op.RELU,
    Op.SIGMOID, Op.TANH, Op.ERF, Op.SIN, Op.COS, Op.TAN, Op.ASIN, Op.ACOS, Op.ATAN, Op.SINH, Op.COSH, Op.ASINH,
    Op.ACOSH, Op.ATANH, Op.SOFTPLUS, Op.SOFTSIGN, Op.NOT, Op.BITWISE_NOT, Op.IS_NAN, Op.IS_INF, Op.LEAKY_RELU,
    Op.ELU, Op.SELU, Op.CELU, Op.HARD_SIGMOID, Op.HARD_SWISH, Op.MISH, Op.THRESHOLDED_RELU, Op.SHRINK,
    Op.IDENTITY, Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.POW, Op.MOD, Op.MAX, Op.MIN, Op.EQUAL, Op.LESS,
    Op.LESS_OR_EQUAL, Op.GREATER, Op.GREATER_OR_EQUAL, Op.AND, Op.OR, Op.XOR, Op.BITWISE_AND, Op.BITWISE_OR,
    Op.BITWISE_XOR, Op.BIT_SHIFT, Op.PRELU, Op.WHERE, Op.BATCH_NORMALIZATION, Op.SOFTMAX, Op.LOG_SOFTMAX,
    Op.MATMUL, Op.GEMM, Op.CONV, Op.CONV_TRANSPOSE, Op.GLOBAL_AVERAGE_POOL, Op.GLOBAL_MAX_POOL, Op.LRN,
    Op.TRANSPOSE, Op.CONCAT, Op.CLIP,
}

# ops added to the IR after this table was written: plain once they exist
_PLAIN |= {Op(n) for n in ("ArgMax", "ArgMin", "Hardmax", "LayerNormalization", "InstanceNormalization",
                           "GroupNormalization", "LpNormalization", "MeanVarianceNormalization", "Gather",
                           "GatherElements", "GatherND", "Shape", "Size", "DepthToSpace", "BitCast")
           if n in Op._value2member_map_}

for _op, _v in ((Op.GELU, 20), (Op.MISH, 18), (Op.BITWISE_NOT, 18), (Op.BITWISE_AND, 18), (Op.BITWISE_OR, 18),
                (Op.BITWISE_XOR, 18)):
    min_opset(_op, _v)
min_opset(Op.AVERAGE_POOL, lambda n: 19 if any(d != 1 for d in n.attrs.dilations) else BASE_OPSET)
min_opset(Op.LP_POOL, lambda n: 18 if any(d != 1 for d in n.attrs.dilations) or n.attrs.ceil_mode else BASE_OPSET)


class _Ctx:
    def __init__(self, opset: int, names: dict[int, str], taken: set[str]):
        self.opset = opset
        self.names = names
        self.taken = taken
        self.initializers: list[TensorProto] = []

    def name(self, v: Value | None) -> str:
        return "" if v is None else self.names[id(v)]

    def fresh(self, hint: str) -> str:
        return _fresh(hint, self.taken)

    def ints(self, values, hint: str) -> str:
        """An int64 initializer holding ``values``; returns its name."""
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64).reshape(-1), name))
        return name


def _attr_dict(node: Node, drop: tuple[str, ...] = ()) -> dict:
    if node.attrs is None or not dataclasses.is_dataclass(node.attrs):
        return {}
    out = {}
    for f in dataclasses.fields(node.attrs):
        if f.name in drop:
            continue
        v = getattr(node.attrs, f.name)
        if isinstance(v, DType):
            v = v.onnx_code
        if isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def _plain(ctx, node, ins, outs):
    return [helper.make_node(node.op.value, ins, outs, name=node.name, **_attr_dict(node))]


@emits(Op.DROPOUT)
def _dropout(ctx, node, ins, outs):
    return [helper.make_node("Identity", ins[:1], outs, name=node.name)]


@emits(Op.CAST)
def _cast(ctx, node, ins, outs):
    return [helper.make_node("Cast", ins, outs, name=node.name, to=DType(node.attrs.to).onnx_code)]


@emits(Op.GELU)
def _gelu(ctx, node, ins, outs):
    return [helper.make_node("Gelu", ins, outs, name=node.name, approximate=node.attrs.approximate)]


def _pool_attrs(ctx, node, keep):
    """The shared pooling attributes plus the op's own (``keep``); unit dilations omitted
    (AveragePool and LpPool only take dilations in newer opsets)."""
    a = node.attrs
    attrs = {"kernel_shape": list(a.kernel_shape), "strides": list(a.strides), "pads": list(a.pads)}
    if any(d != 1 for d in a.dilations):
        attrs["dilations"] = list(a.dilations)
    attrs.update({k: int(getattr(a, k)) for k in keep})
    return attrs


@emits(Op.MAX_POOL)
def _maxpool(ctx, node, ins, outs):
    return [helper.make_node("MaxPool", ins, outs, name=node.name, **_pool_attrs(ctx, node, ("ceil_mode",)))]


@emits(Op.AVERAGE_POOL)
def _avgpool(ctx, node, ins, outs):
    return [helper.make_node("AveragePool", ins, outs, name=node.name,
                             **_pool_attrs(ctx, node, ("ceil_mode", "count_include_pad")))]


@emits(Op.LP_POOL)
def _lppool(ctx, node, ins, outs):
    keep = ("p", "ceil_mode") if node.attrs.ceil_mode else ("p",)
    return [helper.make_node("LpPool", ins, outs, name=node.name, **_pool_attrs(ctx, node, keep))]


def reshape_target(in_shape, out_shape) -> list[int]:
    """ONNX Reshape's shape input for a (possibly symbolic) resolved IR shape: a symbolic dim
    that keeps its input position becomes 0 (copy), at most one other becomes -1."""
    target: list[int] = []
    for i, d in enumerate(out_shape):
        if isinstance(d, int):
            target.append(d)
        elif i < len(in_shape) and in_shape[i] == d:
            target.append(0)
        else:
            target.append(-1)
    if target.count(-1) > 1:
        raise ShapeError(f"cannot express reshape {tuple(map(str, in_shape))} -> {tuple(map(str, out_shape))} "
                         "in ONNX: more than one symbolic dim moves")
    return target


@emits(Op.RESHAPE)
def _reshape(ctx, node, ins, outs):
    out_shape = node.attrs.shape
    if 0 in [d for d in out_shape if isinstance(d, int)]:   # a real zero-size dim: no copy semantics
        if not all(isinstance(d, int) for d in out_shape):
            raise ShapeError(f"Reshape {node.name}: zero-size and symbolic dims together cannot be exported")
        shape = ctx.ints(list(out_shape), f"{outs[0]}_shape")
        return [helper.make_node("Reshape", [ins[0], shape], outs, name=node.name, allowzero=1)]
    target = reshape_target(node.inputs[0].shape, out_shape)
    return [helper.make_node("Reshape", [ins[0], ctx.ints(target, f"{outs[0]}_shape")], outs, name=node.name)]


@emits(Op.CONSTANT_OF_SHAPE)
def _constant_of_shape(ctx, node, ins, outs):
    a = node.attrs
    if not all(isinstance(d, int) for d in a.shape):
        raise ShapeError(f"ConstantOfShape {node.name} has a symbolic shape {a.shape}; export needs static dims")
    value = numpy_helper.from_array(np.array([a.value], dtype=DType(a.dtype).numpy), "value")
    return [helper.make_node("ConstantOfShape", [ctx.ints(list(a.shape), f"{outs[0]}_shape")], outs,
                             name=node.name, value=value)]


def exportable_ops() -> list[Op]:
    return sorted(_PLAIN | set(_EMITTERS), key=lambda o: o.value)


def _onnx_type(v: Value, name: str) -> onnx.ValueInfoProto:
    dims = [str(d) if isinstance(d, SymExpr) else int(d) for d in v.type.shape]
    return helper.make_tensor_value_info(name, v.dtype.onnx_code, dims)


def _fresh(hint: str, taken: set[str]) -> str:
    name, i = hint, 0
    while name in taken:
        i += 1
        name = f"{hint}_{i}"
    taken.add(name)
    return name


def _names(graph: Graph):
    """ONNX names for every value, the graph outputs' names, and the outputs that need an
    Identity node to carry their name.

    An output keeps its public name: its value is renamed when it is a node output nobody
    else claims, an internal value already holding the name gives it up, and only a clash
    with a graph input (whose name is fixed) makes the output ``name_1``."""
    names: dict[int, str] = {id(v): v.name for v in graph.values()}
    by_name = {v.name: v for v in graph.values()}
    taken = set(names.values())
    out_names: list[str] = []
    renames: list[tuple[Value, str]] = []
    claimed: set[int] = set()
    for v, public in zip(graph.outputs, graph.output_names):
        if names[id(v)] == public and id(v) not in claimed:
            claimed.add(id(v))
            out_names.append(public)
            continue
        owner = by_name.get(public)
        if owner is not None and owner is not v and names[id(owner)] == public:
            if owner.is_graph_input:
                public = _fresh(public, taken)
            else:
                names[id(owner)] = _fresh(f"{public}_value", taken)
                by_name[names[id(owner)]] = owner
        if id(v) not in claimed and not v.is_graph_input and not v.is_constant:
            taken.discard(names[id(v)])
            names[id(v)] = public
            claimed.add(id(v))
        else:
            renames.append((v, public))
        taken.add(public)
        by_name[public] = v
        out_names.append(public)
    return names, taken, out_names, renames


def export_onnx(graph: Graph, *, opset: int | None = None, producer: str = "cortado",
                doc: str = "") -> onnx.ModelProto:
    """An ONNX model computing what ``graph`` computes (inputs, outputs and names kept)."""
    from cortado import __version__

    needed = needed_opset(graph)
    if opset is not None and opset < needed:
        raise UnsupportedOpError([("opset", str(opset), f"the graph needs opset {needed} or newer")])
    opset = opset or needed
    names, taken, out_names, renames = _names(graph)
    ctx = _Ctx(opset, names, taken)
    problems: list[tuple[str, str, str]] = []
    nodes: list[onnx.NodeProto] = []
    for node in graph.nodes:
        emitter = _EMITTERS.get(node.op) or (_plain if node.op in _PLAIN else None)
        if emitter is None:
            origin = node.meta.get("caffe_layer")
            where = f" (from Caffe layer {origin!r}, line {node.meta.get('line')})" if origin else ""
            problems.append((node.op.value, node.name, f"no ONNX exporter for this IR op{where}"))
            continue
        ins = [ctx.name(v) for v in node.inputs]
        while ins and ins[-1] == "":
            ins.pop()
        outs = [ctx.name(v) for v in node.outputs]
        nodes.extend(emitter(ctx, node, ins, outs))
    if problems:
        raise UnsupportedOpError(problems, where=f"exporting {graph.name!r} to ONNX")
    for v, public in renames:
        nodes.append(helper.make_node("Identity", [ctx.name(v)], [public], name=ctx.fresh(f"{public}/output")))
    inits = [numpy_helper.from_array(np.asarray(v.const), ctx.name(v)) for v in graph.constants.values()]
    inputs = [_onnx_type(v, ctx.name(v)) for v in graph.inputs]
    outputs = [_onnx_type(v, public) for v, public in zip(graph.outputs, out_names)]
    g = helper.make_graph(nodes, graph.name or "graph", inputs, outputs, initializer=inits + ctx.initializers,
                          doc_string=doc)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name=producer,
                              producer_version=__version__)
    # the oldest IR version that knows this opset: older runtimes load the file too
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    return model
