"""Importers for ONNX shape and data-movement ops, with shape-data propagation.

Shape-like operands (Reshape's shape, Unsqueeze's axes, ConstantOfShape's shape) become IR
attributes; they must be known at compile time, either as constants or as shape data derived
from input shapes (possibly symbolic).
"""

from __future__ import annotations

import numpy as np

from ...ir import DType, Op
from ...ir.dims import Dim, prod
from ...ops.shapes import normalize_axes, normalize_axis
from cortado.runtime.errors import ShapeError

from .context import UnsupportedHere
from .registry import onnx_op


@onnx_op("Constant")
def _constant(ctx, node, inputs, attrs):
    if "value" in attrs:
        arr = np.asarray(attrs["value"])
    elif "value_float" in attrs:
        arr = np.array(attrs["value_float"], dtype=np.float32)
    elif "value_floats" in attrs:
        arr = np.array(attrs["value_floats"], dtype=np.float32)
    elif "value_int" in attrs:
        arr = np.array(attrs["value_int"], dtype=np.int64)
    elif "value_ints" in attrs:
        arr = np.array(attrs["value_ints"], dtype=np.int64)
    else:
        raise UnsupportedHere(f"Constant with {', '.join(attrs) or 'no value'} is not supported")
    if arr.dtype.kind in "OUS":
        raise UnsupportedHere("string constants are not supported")
    from ...ir import DType as _DType
    try:
        _DType.from_numpy(arr.dtype)
    except ValueError:
        raise UnsupportedHere(f"constants of {arr.dtype} are not supported") from None
    return [ctx.const(arr, name=node.output[0])]


def resolve_reshape(in_shape, target: list, allowzero: bool) -> tuple[Dim, ...]:
    out: list = []
    infer = None
    for i, d in enumerate(target):
        if isinstance(d, int) and d == -1:
            if infer is not None:
                raise UnsupportedHere(f"shape {target} has more than one -1")
            infer = i
            out.append(1)
        elif isinstance(d, int) and d == 0 and not allowzero:
            if i >= len(in_shape):
                raise UnsupportedHere(f"shape {target} copies dim {i} (0) but the input has rank {len(in_shape)}")
            out.append(in_shape[i])
        elif isinstance(d, int) and d < -1:
            raise UnsupportedHere(f"shape {target} has a negative dim {d}")
        else:
            out.append(d)
    if infer is not None:
        known = prod(out)
        total = prod(in_shape)
        if known == 0:
            raise UnsupportedHere(f"cannot infer -1 in {target} with a zero-sized dim")
        q = total // known
        if isinstance(q, int) and isinstance(total, int) and q * known != total:
            raise UnsupportedHere(f"cannot reshape {tuple(in_shape)} to {target}")
        out[infer] = q
    if prod(out) != prod(in_shape):
        raise ShapeError(f"cannot reshape {_fmt(in_shape)} ({prod(in_shape)} elements) to {_fmt(out)} "
                         f"({prod(out)} elements)", hint="check the model's input shape (--shape NAME=DIMS)")
    return tuple(out)


def _fmt(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _reshape_to(ctx, x, shape):
    y = ctx.op(Op.RESHAPE, [x], shape=tuple(shape))
    data = ctx.symdata.get(id(x))
    if data is not None:
        ctx.set_symdata(y, data)
    return y


@onnx_op("Reshape")
def _reshape(ctx, node, inputs, attrs):
    x = inputs[0]
    target = list(attrs["shape"]) if ctx.opset < 5 else ctx.ints(inputs[1], "Reshape's shape")
    return [_reshape_to(ctx, x, resolve_reshape(x.shape, target, bool(attrs.get("allowzero", 0))))]


@onnx_op("Flatten")
def _flatten(ctx, node, inputs, attrs):
    x = inputs[0]
    axis = int(attrs.get("axis", 1))
    rank = x.type.rank
    if not -rank <= axis <= rank:
        raise UnsupportedHere(f"axis {axis} out of range for rank {rank}")
    if axis < 0:
        axis += rank
    return [_reshape_to(ctx, x, (prod(x.shape[:axis]), prod(x.shape[axis:])))]


def _axes(ctx, node, inputs, attrs, what):
    if ctx.opset >= 13:
        if len(inputs) < 2 or inputs[1] is None:
            return None
        return [int(a) for a in ctx.ints(inputs[1], f"{what}'s axes")]
    a = attrs.get("axes")
    return None if a is None else [int(v) for v in a]


@onnx_op("Squeeze")
def _squeeze(ctx, node, inputs, attrs):
    x = inputs[0]
    axes = _axes(ctx, node, inputs, attrs, "Squeeze")
    if axes is None:
        if not all(isinstance(d, int) for d in x.shape):
            raise UnsupportedHere("Squeeze without axes needs a static shape")
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    axes = normalize_axes(axes, x.type.rank)
    for a in axes:
        if x.shape[a] != 1:
            raise UnsupportedHere(f"cannot squeeze axis {a} of size {x.shape[a]}")
    return [_reshape_to(ctx, x, [d for i, d in enumerate(x.shape) if i not in axes])]


@onnx_op("Unsqueeze")
def _unsqueeze(ctx, node, inputs, attrs):
    x = inputs[0]
    axes = _axes(ctx, node, inputs, attrs, "Unsqueeze")
    if axes is None:
        raise UnsupportedHere("Unsqueeze needs axes")
    rank = x.type.rank + len(axes)
    axes = normalize_axes(axes, rank)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return [_reshape_to(ctx, x, shape)]


@onnx_op("Transpose")
def _transpose(ctx, node, inputs, attrs):
    x = inputs[0]
    perm = attrs.get("perm") or tuple(reversed(range(x.type.rank)))
    return [ctx.op(Op.TRANSPOSE, [x], perm=tuple(int(p) for p in perm))]


@onnx_op("Concat")
def _concat(ctx, node, inputs, attrs):
    xs = [v for v in inputs if v is not None]
    if "axis" not in attrs and ctx.opset >= 4:
        raise UnsupportedHere("axis is required")
    axis = normalize_axis(int(attrs.get("axis", 1)), xs[0].type.rank)
    # shape data: concatenating 1-D shape tensors
    if xs[0].type.rank == 1 and all(v.const is not None or id(v) in ctx.symdata for v in xs):
        data = []
        for v in xs:
            data += ctx.ints(v, "Concat input")
        if all(isinstance(d, int) for d in data):
            return [ctx.const(np.array(data, dtype=xs[0].dtype.numpy), name=node.output[0])]
        out = ctx.op(Op.CONCAT, xs, axis=axis)
        ctx.set_symdata(out, data)
        return [out]
    return [ctx.op(Op.CONCAT, xs, axis=axis)]


@onnx_op("Shape")
def _shape(ctx, node, inputs, attrs):
    x = inputs[0]
    rank = x.type.rank
    start = int(attrs.get("start", 0))
    end = int(attrs.get("end", rank))
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    dims = list(x.shape[start:end])
    if all(isinstance(d, int) for d in dims):
        return [ctx.const(np.array(dims, dtype=np.int64), name=node.output[0])]
    out = ctx.op(Op.SHAPE, [x], start=start, end=max(end, start))
    ctx.set_symdata(out, dims)
    return [out]


@onnx_op("ConstantOfShape")
def _constant_of_shape(ctx, node, inputs, attrs):
    shape = ctx.ints(inputs[0], "ConstantOfShape's shape")
    value = attrs.get("value")
    if value is None:
        v, dtype = 0.0, DType.FLOAT32
    else:
        arr = np.asarray(value)
        v, dtype = arr.reshape(-1)[0].item(), DType.from_numpy(arr.dtype)
    if any(isinstance(d, int) and d < 0 for d in shape):
        raise UnsupportedHere(f"negative dim in shape {shape}")
    return [ctx.op(Op.CONSTANT_OF_SHAPE, [], shape=tuple(shape), value=v, dtype=dtype)]
