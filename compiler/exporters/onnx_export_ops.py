"""ONNX emitters for IR ops whose ONNX form takes shape-like inputs or needs a newer opset:
reductions, slicing and padding, indexing and scatter, scans, resize, generators.

The IR keeps these operands as resolved attributes (full-rank Slice bounds, explicit Reduce
axes...); here they become int64 initializers again. Symbolic bounds that ONNX cannot express
without shape arithmetic are refused with a clear message. Ops are looked up by name, so an
emitter is inert until its IR op exists.
"""

from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from ..ir import DType, Op
from ..ir.dims import SymExpr
from cortado.runtime.errors import ShapeError, UnsupportedOpError

from .onnx_registry import emits, min_opset

INT64_MAX = 2**63 - 1
INT64_MIN = -2**63


def _ops(*names: str) -> list[Op]:
    return [Op(n) for n in names if n in Op._value2member_map_]


def _static(values, node, what: str) -> list[int]:
    if any(isinstance(v, SymExpr) for v in values):
        raise ShapeError(f"{node.op.value} {node.name}: {what} {tuple(map(str, values))} is symbolic; export needs "
                         "static values")
    return [int(v) for v in values]


def _scalar(ctx, value, dtype, hint: str) -> str:
    name = ctx.fresh(hint)
    ctx.initializers.append(numpy_helper.from_array(np.array(value, dtype=DType(dtype).numpy), name))
    return name


REDUCE = _ops("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")


@emits(*REDUCE)
def _reduce(ctx, node, ins, outs):
    a = node.attrs
    axes = list(a.axes)
    if node.op is Op.REDUCE_SUM or ctx.opset >= 18:   # axes became an input (ReduceSum: opset 13)
        return [helper.make_node(node.op.value, [ins[0], ctx.ints(axes, f"{outs[0]}_axes")], outs, name=node.name,
                                 keepdims=int(a.keepdims))]
    return [helper.make_node(node.op.value, ins, outs, name=node.name, axes=axes, keepdims=int(a.keepdims))]


@emits(*_ops("Slice"))
def _slice(ctx, node, ins, outs):
    a = node.attrs
    shape = node.inputs[0].shape
    starts, ends, axes, steps = [], [], [], []
    for i, (s, e, st, d) in enumerate(zip(a.starts, a.ends, a.steps, shape)):
        full = (s == 0 and e == d) if st > 0 else False
        if full and st == 1:
            continue
        if isinstance(s, SymExpr):
            raise ShapeError(f"Slice {node.name}: symbolic start {s} cannot be exported")
        if st > 0:
            end = INT64_MAX if (isinstance(e, SymExpr) and e == d) or e == d else e
        else:
            end = INT64_MIN if e == -1 else e   # -1 means "through index 0" in the IR, "last" in ONNX
        if isinstance(end, SymExpr):
            raise ShapeError(f"Slice {node.name}: symbolic end {end} cannot be exported")
        starts.append(int(s))
        ends.append(int(end))
        axes.append(i)
        steps.append(int(st))
    if not axes:
        return [helper.make_node("Identity", ins, outs, name=node.name)]
    names = [ctx.ints(v, f"{outs[0]}_{k}") for k, v in (("starts", starts), ("ends", ends), ("axes", axes),
                                                        ("steps", steps))]
    return [helper.make_node("Slice", [ins[0], *names], outs, name=node.name)]


@emits(*_ops("Expand"))
def _expand(ctx, node, ins, outs):
    in_shape = node.inputs[0].shape
    target = []
    offset = len(node.attrs.shape) - len(in_shape)
    for i, d in enumerate(node.attrs.shape):
        if isinstance(d, SymExpr):
            j = i - offset
            if 0 <= j < len(in_shape) and in_shape[j] == d:
                target.append(1)          # broadcasting keeps the input's own (symbolic) dim
                continue
            raise ShapeError(f"Expand {node.name}: symbolic target dim {d} cannot be exported")
        target.append(int(d))
    return [helper.make_node("Expand", [ins[0], ctx.ints(target, f"{outs[0]}_shape")], outs, name=node.name)]


@emits(*_ops("Tile"))
def _tile(ctx, node, ins, outs):
    return [helper.make_node("Tile", [ins[0], ctx.ints(list(node.attrs.repeats), f"{outs[0]}_repeats")], outs,
                             name=node.name)]


@emits(*_ops("Pad"))
def _pad(ctx, node, ins, outs):
    a = node.attrs
    extra = [ctx.ints(list(a.pads), f"{outs[0]}_pads")]
    if a.mode == "constant":
        extra.append(_scalar(ctx, a.value, node.inputs[0].dtype, f"{outs[0]}_value"))
    return [helper.make_node("Pad", [ins[0], *extra], outs, name=node.name, mode=a.mode)]


@emits(*_ops("Trilu"))
def _trilu(ctx, node, ins, outs):
    k = ctx.fresh(f"{outs[0]}_k")
    ctx.initializers.append(numpy_helper.from_array(np.array(node.attrs.k, dtype=np.int64), k))
    return [helper.make_node("Trilu", [ins[0], k], outs, name=node.name, upper=int(node.attrs.upper))]


@emits(*_ops("Range"))
def _range(ctx, node, ins, outs):
    a = node.attrs
    size = _static([a.size], node, "size")[0]
    dt = DType(a.dtype)
    start, delta = np.array(a.start, dt.numpy), np.array(a.delta, dt.numpy)
    limit = start + delta * np.array(size, dt.numpy)
    names = [_scalar(ctx, v, dt, f"{outs[0]}_{k}") for k, v in (("start", start), ("limit", limit),
                                                                ("delta", delta))]
    return [helper.make_node("Range", names, outs, name=node.name)]


@emits(*_ops("SpaceToDepth"))
def _space_to_depth(ctx, node, ins, outs):
    return [helper.make_node("SpaceToDepth", ins, outs, name=node.name, blocksize=node.attrs.blocksize)]


@emits(*_ops("OneHot"))
def _one_hot(ctx, node, ins, outs):
    depth = _scalar(ctx, node.attrs.depth, DType.INT64, f"{outs[0]}_depth")
    return [helper.make_node("OneHot", [ins[0], depth, ins[1]], outs, name=node.name, axis=node.attrs.axis)]


@emits(*_ops("ScatterElements", "ScatterND"))
def _scatter(ctx, node, ins, outs):
    attrs = {} if node.op is Op.SCATTER_ND else {"axis": node.attrs.axis}
    if node.attrs.reduction != "none":
        attrs["reduction"] = node.attrs.reduction
    return [helper.make_node(node.op.value, ins, outs, name=node.name, **attrs)]


@emits(*_ops("CumSum", "CumProd"))
def _cumulative(ctx, node, ins, outs):
    axis = _scalar(ctx, node.attrs.axis, DType.INT64, f"{outs[0]}_axis")
    return [helper.make_node(node.op.value, [ins[0], axis], outs, name=node.name,
                             exclusive=int(node.attrs.exclusive), reverse=int(node.attrs.reverse))]


@emits(*_ops("TopK"))
def _topk(ctx, node, ins, outs):
    a = node.attrs
    k = ctx.ints([a.k], f"{outs[0]}_k")
    return [helper.make_node("TopK", [ins[0], k], outs, name=node.name, axis=a.axis, largest=int(a.largest),
                             sorted=int(a.sorted))]


@emits(*_ops("Resize"))
def _resize(ctx, node, ins, outs):
    a = node.attrs
    if a.nearest_mode == "simple":
        raise UnsupportedOpError([("Resize", node.name, "nearest_mode 'simple' (opset < 11) has no ONNX form "
                                   "in the opsets Cortado writes")])
    roi = ""
    if a.roi:
        roi = ctx.fresh(f"{outs[0]}_roi")
        ctx.initializers.append(numpy_helper.from_array(np.asarray(a.roi, np.float32), roi))
    if all(isinstance(d, int) for d in a.sizes):
        inputs = [ins[0], roi, "", ctx.ints(list(a.sizes), f"{outs[0]}_sizes")]
    else:
        scales = ctx.fresh(f"{outs[0]}_scales")
        ctx.initializers.append(numpy_helper.from_array(np.asarray(a.scales, np.float32), scales))
        inputs = [ins[0], roi, scales]
    attrs = dict(mode=a.mode, coordinate_transformation_mode=a.coordinate_transformation_mode,
                 nearest_mode=a.nearest_mode, cubic_coeff_a=float(a.cubic_coeff_a),
                 exclude_outside=int(a.exclude_outside), extrapolation_value=float(a.extrapolation_value))
    if getattr(a, "antialias", 0):
        attrs["antialias"] = 1
    return [helper.make_node("Resize", inputs, outs, name=node.name, **attrs)]


@emits(*_ops("GridSample"))
def _grid_sample(ctx, node, ins, outs):
    a = node.attrs
    return [helper.make_node("GridSample", ins, outs, name=node.name, mode=a.mode, padding_mode=a.padding_mode,
                             align_corners=int(a.align_corners))]


@emits(*_ops("TensorScatter"))
def _tensor_scatter(ctx, node, ins, outs):
    return [helper.make_node("TensorScatter", ins, outs, name=node.name, axis=node.attrs.axis, mode=node.attrs.mode)]


# ops (or attribute values) that only newer opsets spell
for _name, _rule in (("GroupNormalization", 21), ("CumProd", 26), ("BitCast", 26), ("GridSample", 20),
                     ("TensorScatter", 24),
                     ("Resize", lambda n: 19 if n.attrs.coordinate_transformation_mode == "half_pixel_symmetric"
                      else 18 if getattr(n.attrs, "antialias", 0) else 17),
                     ("Pad", lambda n: 19 if n.attrs.mode == "wrap" else 17)):
    if _name in Op._value2member_map_:
        min_opset(Op(_name), _rule)


@emits(*_ops("NonZero"))
def _nonzero(ctx, node, ins, outs):
    return [helper.make_node("NonZero", [ins[0]], outs, name=node.name)]


@emits(*_ops("NonMaxSuppression"))
def _nms(ctx, node, ins, outs):
    return [helper.make_node("NonMaxSuppression", list(ins), outs, name=node.name,
                             center_point_box=int(node.attrs.center_point_box))]


@emits(*_ops("Unique"))
def _unique(ctx, node, ins, outs):
    extra = {} if node.attrs.axis is None else {"axis": int(node.attrs.axis)}
    return [helper.make_node("Unique", [ins[0]], outs, name=node.name, sorted=int(node.attrs.sorted), **extra)]


@emits(*_ops("TopKRuntime"))
def _topk_runtime(ctx, node, ins, outs):
    a = node.attrs
    return [helper.make_node("TopK", [ins[0], ins[1]], outs, name=node.name, axis=a.axis, largest=int(a.largest),
                             sorted=int(a.sorted))]


@emits(*_ops("If", "Loop", "Scan"))
def _runtime_control(ctx, node, ins, outs):
    raise UnsupportedOpError([(node.op.value, node.name, "run-time control flow (its bodies are sub-graphs) has no "
                               "ONNX export yet")])


from . import onnx_export_detection  # noqa: E402,F401  (SSD's DetectionOutput as a subgraph around NMS)
