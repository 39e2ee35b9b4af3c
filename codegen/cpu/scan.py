"""Scans, shapes, resizing and the rarer normalizations: numpy's cumsum/argsort over a whole
axis, shapes as constants of the call's sizes, Resize as per-axis gathers whose indices and
weights are computed at compile time (the sizes are static along resized axes)."""

from __future__ import annotations

import numpy as np

from cortado.ir import Op
from cortado.ops.resize import _taps, resized_axes, source_coordinate

from .render import Expr, Unsupported, cpu_op


@cpu_op(Op.CUM_SUM, Op.CUM_PROD)
def cumulative(w, node, xs):
    a = node.attrs
    x = xs[0]
    kind = "sum" if node.op is Op.CUM_SUM else "prod"
    return Expr(f"{w.use('cumulative')}({x}, {a.axis}, {kind!r}, {bool(a.exclusive)}, {bool(a.reverse)})", True)


@cpu_op(Op.TOP_K)
def top_k(w, node, xs):
    a = node.attrs
    t = w.tmp()
    w.emit(f"{t} = {w.use('top_k')}({xs[0]}, {a.k}, {a.axis}, {bool(a.largest)})")
    return [Expr(f"{t}[0]"), Expr(f"{t}[1]")]


@cpu_op(Op.SHAPE)
def shape(w, node, xs):
    a = node.attrs
    dims = node.inputs[0].shape[a.start:a.end]
    return Expr(f"np.array({w.shape(dims)}, dtype=np.int64)", True)


@cpu_op(Op.SIZE)
def size(w, node, xs):
    n = 1
    for d in node.inputs[0].shape:
        n = n * d
    return Expr(f"np.array({w.dim(n)}, dtype=np.int64)", True)


@cpu_op(Op.HARDMAX)
def hardmax(w, node, xs):
    rank = len(node.inputs[0].shape)
    axis = node.attrs.axis + rank if node.attrs.axis < 0 else node.attrs.axis
    return Expr(f"{w.use('hardmax')}({xs[0]}, {axis})", True)


@cpu_op(Op.LP_NORMALIZATION)
def lp_norm(w, node, xs):
    rank = len(node.inputs[0].shape)
    axis = node.attrs.axis + rank if node.attrs.axis < 0 else node.attrs.axis
    return Expr(f"{w.use('lp_normalize')}({xs[0]}, {axis}, {node.attrs.p})", True)


@cpu_op(Op.MEAN_VARIANCE_NORMALIZATION)
def mvn(w, node, xs):
    x = xs[0]
    axes = w.lit(tuple(node.attrs.axes))
    return Expr(f"(({x} - {x}.mean(axis={axes}, keepdims=True)) / (np.sqrt({x}.var(axis={axes}, keepdims=True)) "
                f"+ 1e-9)).astype({x}.dtype)", True)


@cpu_op(Op.GATHER_ELEMENTS)
def gather_elements(w, node, xs):
    x, idx = xs
    axis = node.attrs.axis
    data, ind = node.inputs[0].shape, node.inputs[1].shape
    crop = ", ".join(":" if d == axis else f":{w.dim(n)}" for d, n in enumerate(ind))
    n = w.dim(data[axis])
    return Expr(f"np.take_along_axis({x}[{crop}], np.where({idx} < 0, {idx} + {n}, {idx}).astype(np.int64), "
                f"axis={axis})", True)


@cpu_op(Op.RESIZE)
def resize(w, node, xs):
    a = node.attrs
    x = node.inputs[0]
    if a.coordinate_transformation_mode == "tf_crop_and_resize":
        raise Unsupported("Resize with tf_crop_and_resize has no numpy form yet")
    shape = tuple(x.shape)
    axes = resized_axes(a, shape)
    if any(not isinstance(shape[i], int) for i in axes):
        raise Unsupported("Resize along a symbolic axis has no numpy form yet")
    rows = []
    for axis in axes:
        n_in, n_out = shape[axis], a.sizes[axis]
        src = source_coordinate(a, axis, np.arange(n_out, dtype=np.float64), n_in, n_out, len(shape))
        offs, weights, _ = _taps(a, src, a.scales[axis])
        idx = [np.clip(np.asarray(o).astype(np.int64), 0, n_in - 1) for o in offs]
        ws = [np.broadcast_to(np.asarray(wt, dtype=np.float64), (n_out,)) for wt in weights]
        if a.exclude_outside and a.mode != "nearest":
            inside = [((np.asarray(o) >= 0) & (np.asarray(o) < n_in)).astype(np.float64) for o in offs]
            ws = [wt * m for wt, m in zip(ws, inside)]
            total = sum(ws)
            ws = [wt / np.where(total == 0, 1.0, total) for wt in ws]
        taps = tuple(tuple(int(v) for v in i) for i in idx)
        weights = None if a.mode == "nearest" else tuple(tuple(float(v) for v in wt) for wt in ws)
        rows.append((axis, taps, weights))
    return Expr(f"{w.use('resize')}({xs[0]}, {rows!r})", True)
