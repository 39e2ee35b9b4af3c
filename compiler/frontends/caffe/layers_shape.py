"""Shape and data-movement layers: Concat, Slice, Split, Flatten, Reshape, Permute, Crop,
ArgMax, Tile — and the Caffe layer types Cortado knows but cannot compile yet.

* Reshape follows Caffe: ``shape`` replaces the input axes ``[axis, axis + num_axes)``;
  a 0 copies the input dim at that position, one -1 is inferred.
* Crop cuts bottom 0 to bottom 1's shape on every axis from ``axis`` on, at ``offset``
  (one value for all cropped axes, or one per axis).
* ArgMax without ``axis`` works per sample over all other axes and returns (N, 1, k) — or
  (N, 2, k) with the maxima when ``out_max_val`` — as floats; ties go to the highest index.
"""

from __future__ import annotations

from ...ir import DType, Op
from ...ir.dims import prod
from .registry import caffe_layer


def slice_axis(ctx, x, axis: int, start: int, end: int, top: int | None = None):
    """x[..., start:end, ...] on one axis (the IR's Slice bounds cover every axis)."""
    ctx.require(Op.SLICE)
    rank = x.type.rank
    starts = tuple(start if i == axis else 0 for i in range(rank))
    ends = tuple(end if i == axis else x.shape[i] for i in range(rank))
    return ctx.op(Op.SLICE, [x], top=top, starts=starts, ends=ends, steps=(1,) * rank)


@caffe_layer("Concat")
def _concat(ctx, layer, inputs):
    p = layer.param("concat_param")
    rank = inputs[0].type.rank
    axis = p.concat_dim if p.has("concat_dim") and not p.has("axis") else ctx.axis(p.axis, rank)
    if len(inputs) == 1:
        return [inputs[0]]
    return [ctx.op(Op.CONCAT, list(inputs), top=0, axis=axis)]


@caffe_layer("Slice")
def _slice(ctx, layer, inputs):
    p = layer.param("slice_param")
    x = inputs[0]
    axis = p.slice_dim if p.has("slice_dim") and not p.has("axis") else ctx.axis(p.axis, x.type.rank)
    size = x.shape[axis]
    n = len(layer.tops)
    points = list(p.slice_point)
    if points:
        if len(points) != n - 1:
            raise ctx.error(f"{len(points)} slice_point(s) for {n} tops; give one fewer than the tops")
        if any(b <= a for a, b in zip(points, points[1:])) or points[0] <= 0 or points[-1] >= size:
            raise ctx.error(f"slice_point {points} must increase strictly inside (0, {size})")
    else:
        if size % n:
            raise ctx.error(f"axis {axis} of size {size} does not split evenly into {n} tops")
        points = [size // n * i for i in range(1, n)]
    bounds = [0] + points + [size]
    if n == 1:
        return [x]
    return [slice_axis(ctx, x, axis, bounds[i], bounds[i + 1], top=i) for i in range(n)]


@caffe_layer("Split")
def _split(ctx, layer, inputs):
    return [inputs[0]] * len(layer.tops)


@caffe_layer("Flatten")
def _flatten(ctx, layer, inputs):
    p = layer.param("flatten_param")
    x = inputs[0]
    rank = x.type.rank
    start = ctx.axis(p.axis, rank, "axis")
    end = ctx.axis(p.end_axis, rank, "end_axis")
    if end < start:
        raise ctx.error(f"end_axis {p.end_axis} comes before axis {p.axis}")
    shape = tuple(x.shape[:start]) + (prod(x.shape[start:end + 1]),) + tuple(x.shape[end + 1:])
    return [ctx.op(Op.RESHAPE, [x], top=0, shape=shape)]


def caffe_reshape(ctx, in_shape: tuple, dims: list[int], axis: int, num_axes: int) -> tuple:
    rank = len(in_shape)
    start = axis if axis >= 0 else rank + axis + 1
    if not 0 <= start <= rank:
        raise ctx.error(f"reshape axis {axis} is out of range for rank {rank}")
    if num_axes < -1:
        raise ctx.error(f"num_axes must be >= -1, got {num_axes}")
    end = rank if num_axes == -1 else start + num_axes
    if end > rank:
        raise ctx.error(f"axis {axis} + num_axes {num_axes} exceeds the input rank {rank}")
    middle: list = []
    infer = None
    for i, d in enumerate(dims):
        if d == 0:
            if start + i >= rank:
                raise ctx.error(f"dim {i} is 0 (copy) but the input has no axis {start + i}")
            middle.append(in_shape[start + i])
        elif d == -1:
            if infer is not None:
                raise ctx.error("at most one dim may be -1")
            infer = i
            middle.append(1)
        elif d < -1:
            raise ctx.error(f"dim {d} is negative")
        else:
            middle.append(d)
    shape = list(in_shape[:start]) + middle + list(in_shape[end:])
    total = prod(in_shape)
    if infer is not None:
        known = prod(shape)
        q = total // known
        if isinstance(q, int) and q * known != total:
            raise ctx.error(f"cannot infer the -1 dim: {total} elements do not divide by {known}")
        shape[start + infer] = q
    if prod(shape) != total:
        raise ctx.error(f"cannot reshape {tuple(map(str, in_shape))} to {tuple(map(str, shape))}")
    return tuple(shape)


@caffe_layer("Reshape")
def _reshape(ctx, layer, inputs):
    p = layer.param("reshape_param")
    x = inputs[0]
    shape = caffe_reshape(ctx, tuple(x.shape), [int(d) for d in p.shape.dim], p.axis, p.num_axes)
    return [ctx.op(Op.RESHAPE, [x], top=0, shape=shape)]


@caffe_layer("Permute")
def _permute(ctx, layer, inputs):
    x = inputs[0]
    rank = x.type.rank
    order = [int(o) for o in layer.param("permute_param").order]
    if len(set(order)) != len(order) or any(o >= rank for o in order):
        raise ctx.error(f"order {order} must name distinct axes below the rank {rank}")
    perm = order + [a for a in range(rank) if a not in order]
    if perm == list(range(rank)):
        return [x]
    return [ctx.op(Op.TRANSPOSE, [x], top=0, perm=tuple(perm))]


@caffe_layer("Crop")
def _crop(ctx, layer, inputs):
    if len(inputs) != 2:
        raise ctx.error("Crop needs two bottoms: the blob to crop and a reference for the shape")
    x, ref = inputs
    p = layer.param("crop_param")
    rank = x.type.rank
    if ref.type.rank != rank:
        raise ctx.error(f"the reference {ref.type} must have the rank of the input {x.type}")
    axis = ctx.axis(p.axis, rank)
    offsets = list(p.offset)
    n = rank - axis
    if len(offsets) not in (0, 1, n):
        raise ctx.error(f"{len(offsets)} offsets for {n} cropped axes; give none, one, or one per axis")
    offsets = offsets * n if len(offsets) == 1 else (offsets or [0] * n)
    y = x
    changed = [i for i in range(axis, rank) if (offsets[i - axis], ref.shape[i]) != (0, x.shape[i])]
    for k, i in enumerate(changed):
        o, size = offsets[i - axis], ref.shape[i]
        if o + size > x.shape[i]:
            raise ctx.error(f"offset {o} + size {size} exceeds axis {i} of the input ({x.shape[i]})")
        y = slice_axis(ctx, y, i, o, o + size, top=0 if k == len(changed) - 1 else None)
    return [y]


@caffe_layer("ArgMax")
def _argmax(ctx, layer, inputs):
    p = layer.param("argmax_param")
    x = inputs[0]
    k = p.top_k
    flat = not p.has("axis")
    if flat:   # per sample, over everything else
        n = x.shape[0]
        x = ctx.op(Op.RESHAPE, [x], shape=(n, prod(x.shape[1:])))
    axis = 1 if flat else ctx.axis(p.axis, x.type.rank)
    if not isinstance(x.shape[axis], int) or not 1 <= k <= x.shape[axis]:
        raise ctx.error(f"top_k {k} must be between 1 and the size of the axis ({x.shape[axis]})")
    if k == 1:
        ctx.require(Op.ARG_MAX, Op.REDUCE_MAX)
        idx = ctx.op(Op.ARG_MAX, [x], axis=axis, keepdims=1, select_last_index=1)
        val = ctx.op(Op.REDUCE_MAX, [x], axes=(axis,), keepdims=1) if p.out_max_val else None
    else:      # ties: TopK keeps the lower index first, Caffe the higher
        ctx.require(Op.TOP_K)
        val, idx = ctx.ops(Op.TOP_K, [x], k=k, axis=axis, largest=1, sorted=1)
    if not flat:
        if p.out_max_val:
            return [ctx.op(Op.IDENTITY, [val], top=0)]
        return [ctx.op(Op.CAST, [idx], top=0, to=DType.FLOAT32)]
    idx = ctx.op(Op.CAST, [idx], to=DType.FLOAT32)
    if p.out_max_val:
        idx = ctx.op(Op.CONCAT, [idx, val], axis=1)
    return [ctx.op(Op.RESHAPE, [idx], top=0, shape=(x.shape[0], 2 if p.out_max_val else 1, k))]


@caffe_layer("Tile")
def _tile(ctx, layer, inputs):
    p = layer.param("tile_param")
    x = inputs[0]
    axis = ctx.axis(p.axis, x.type.rank)
    if p.tiles < 1:
        raise ctx.error(f"tiles must be positive, got {p.tiles}")
    ctx.require(Op.TILE)
    repeats = tuple(p.tiles if i == axis else 1 for i in range(x.type.rank))
    return [ctx.op(Op.TILE, [x], top=0, repeats=repeats)]


_NOT_YET = {
    "Embed": "Embed (a table lookup) is not supported yet",
    "MVN": "MVN (mean-variance normalization) is not supported yet",
    "Reduction": "Reduction is not supported yet",
    "SPP": "spatial pyramid pooling is not supported yet",
    "RNN": "recurrent layers are not supported",
    "LSTM": "recurrent layers are not supported",
    "Im2col": "Im2col is not supported",
    "Python": "Python layers run arbitrary Python code; register a converter for type 'Python' "
              "(cortado.frontends.caffe.register_layer) that maps yours to IR ops",
}


def _not_yet(ctx, layer, inputs):
    raise ctx.unsupported(_NOT_YET[layer.type])


for _type in _NOT_YET:
    caffe_layer(_type, kind="refused")(_not_yet)
