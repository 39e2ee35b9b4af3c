"""Importers for shape-driven data movement and scans: Slice, Split, Expand, Tile, Pad, Trilu,
Range, Size, CumSum, CumProd, TopK, DepthToSpace, SpaceToDepth.

Shape-like inputs (starts, repeats, pads, K, ...) must be known at compile time; they become
canonical IR attributes. Slice and Split keep shape data flowing (``x.shape[1:]`` style).
"""

from __future__ import annotations

import numpy as np

from ...ir import DType, Op
from ...ir.dims import Dim, SymExpr
from ...ops.shapes import broadcast_shapes, normalize_axis
from ...ops.slicing import slice_length
from cortado.runtime.errors import ModelFormatError
from cortado.runtime.limits import INDEX_LIMIT, check_elements
from .context import UnsupportedHere
from .registry import onnx_op

_BIG = 2**30    # |start| / |end| at least this means "to the end" (exporters use INT_MAX variants)


def resolve_slice(d: Dim, s: Dim, e: Dim, st: int) -> tuple[Dim, Dim]:
    """Clamp start/end of one axis the ONNX way; symbolic dims assume in-range numbers."""
    if st == 0:
        raise UnsupportedHere("Slice step 0 is invalid")
    if isinstance(d, int) and isinstance(s, int) and isinstance(e, int):
        s = s + d if s < 0 else s
        e = e + d if e < 0 else e
        if st > 0:
            return min(max(s, 0), d), min(max(e, 0), d)
        return min(max(s, -1), d - 1), min(max(e, -1), d - 1)

    def one(v, is_end):
        if isinstance(v, SymExpr):
            return v
        if v >= _BIG:
            return d if st > 0 else d - 1
        if v <= -_BIG:
            return 0 if st > 0 else -1
        if v < 0:
            return d + v
        if isinstance(d, int):
            return min(v, d if st > 0 else d - 1)
        return v
    return one(s, False), one(e, True)


def make_slice(ctx, x, starts: dict, ends: dict, steps: dict, name=None):
    """A Slice of ``x``; axes missing from the dicts are kept whole."""
    rank = x.type.rank
    S, E, T = [], [], []
    for i, d in enumerate(x.shape):
        st = int(steps.get(i, 1))
        if i in starts:
            s, e = resolve_slice(d, starts[i], ends[i], st)
        else:
            s, e = 0, d
        S.append(s)
        E.append(e)
        T.append(st)
    if all(s == 0 and e == d and t == 1 for s, e, t, d in zip(S, E, T, x.shape)):
        out = ctx.op(Op.IDENTITY, [x])
    else:
        out = ctx.op(Op.SLICE, [x], starts=tuple(S), ends=tuple(E), steps=tuple(T), name=name)
    data = ctx.symdata.get(id(x))
    if data is not None and rank == 1 and all(isinstance(v, int) for v in (S[0], E[0])):
        picked = data[S[0]:(None if E[0] < 0 else E[0]):T[0]]
        return ctx.static_or_shape(out, picked)
    return out


@onnx_op("Slice")
def _slice(ctx, node, inputs, attrs):
    x = inputs[0]
    rank = x.type.rank
    if ctx.opset < 10:
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes = list(attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts = ctx.ints(inputs[1], "Slice's starts")
        ends = ctx.ints(inputs[2], "Slice's ends")
        axes = ctx.ints(inputs[3], "Slice's axes") if len(inputs) > 3 and inputs[3] is not None \
            else list(range(len(starts)))
        steps = ctx.ints(inputs[4], "Slice's steps") if len(inputs) > 4 and inputs[4] is not None \
            else [1] * len(starts)
    if not (len(starts) == len(ends) == len(axes) == len(steps)):
        raise UnsupportedHere("Slice starts, ends, axes and steps differ in length")
    axes = [normalize_axis(int(a), rank) for a in axes]
    if len(set(axes)) != len(axes):
        raise UnsupportedHere(f"Slice axes {axes} repeat an axis")
    if any(not isinstance(t, int) for t in steps):
        raise UnsupportedHere("Slice steps must be static")
    return [make_slice(ctx, x, dict(zip(axes, starts)), dict(zip(axes, ends)), dict(zip(axes, steps)))]


@onnx_op("Split")
def _split(ctx, node, inputs, attrs):
    x = inputs[0]
    axis = normalize_axis(int(attrs.get("axis", 0)), x.type.rank)
    d = x.shape[axis]
    n_out = len(node.output)
    if ctx.opset >= 13:
        sizes = ctx.ints(inputs[1], "Split's split") if len(inputs) > 1 and inputs[1] is not None else None
    else:
        sizes = list(attrs["split"]) if "split" in attrs else None
        if sizes is None and len(inputs) > 1 and inputs[1] is not None:
            sizes = ctx.ints(inputs[1], "Split's split")
    if sizes is None:
        n = int(attrs.get("num_outputs", n_out))
        if not isinstance(d, int):
            if n == 1:
                sizes = [d]
            else:
                part = d // n
                sizes = [part] * n
        else:
            part = -(-d // n) if "num_outputs" in attrs else d // n
            if "num_outputs" not in attrs and d % n:
                raise UnsupportedHere(f"axis of {d} does not split evenly into {n}")
            sizes = [min(part, d - part * i) for i in range(n)]
    if len(sizes) != n_out:
        raise UnsupportedHere(f"Split gives {len(sizes)} sizes for {n_out} outputs")
    outs, start = [], 0
    for i, s in enumerate(sizes):
        if isinstance(s, int) and s == 0:
            # an empty part holds no data: an empty constant (Concat skips it)
            shape = list(x.shape)
            shape[axis] = 0
            if not all(isinstance(d, int) for d in shape):
                raise UnsupportedHere("an empty Split output of a symbolic shape is not supported")
            outs.append(ctx.const(np.zeros(shape, dtype=x.dtype.numpy), name=node.output[i] or "empty"))
            continue
        outs.append(make_slice(ctx, x, {axis: start}, {axis: start + s}, {axis: 1}, name=f"{node.name}_{i}"
                               if node.name else None))
        start = start + s
    return outs


@onnx_op("Expand")
def _expand(ctx, node, inputs, attrs):
    x = inputs[0]
    target = ctx.ints(inputs[1], "Expand's shape")
    try:
        shape = broadcast_shapes(x.shape, target)
    except Exception:
        raise UnsupportedHere(f"cannot broadcast {tuple(map(str, x.shape))} to {tuple(map(str, target))}") from None
    if tuple(shape) == tuple(x.shape):
        return [ctx.op(Op.IDENTITY, [x])]
    return [ctx.op(Op.EXPAND, [x], shape=tuple(shape))]


@onnx_op("Tile")
def _tile(ctx, node, inputs, attrs):
    x = inputs[0]
    if ctx.opset < 6:
        raise UnsupportedHere("Tile before opset 6 is not supported")
    reps = ctx.ints(inputs[1], "Tile's repeats")
    if any(not isinstance(r, int) or r < 1 for r in reps) or len(reps) != x.type.rank:
        raise UnsupportedHere(f"repeats {reps} must be positive static ints, one per axis")
    return [ctx.op(Op.TILE, [x], repeats=tuple(reps))]


@onnx_op("Pad")
def _pad(ctx, node, inputs, attrs):
    x = inputs[0]
    rank = x.type.rank
    mode = attrs.get("mode", "constant")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise UnsupportedHere(f"mode {mode!r} is not supported")
    if ctx.opset < 11:
        pads = list(attrs.get("pads", attrs.get("paddings", ())))
        value = float(attrs.get("value", 0.0))
    else:
        pads = ctx.ints(inputs[1], "Pad's pads")
        value = 0.0
        if len(inputs) > 2 and inputs[2] is not None:
            value = ctx.scalar(inputs[2], "Pad's constant_value")
        if len(inputs) > 3 and inputs[3] is not None:
            axes = [normalize_axis(int(a), rank) for a in ctx.ints(inputs[3], "Pad's axes")]
            full = [0] * (2 * rank)
            for k, a in enumerate(axes):
                full[a], full[rank + a] = pads[k], pads[len(axes) + k]
            pads = full
    if len(pads) != 2 * rank or any(not isinstance(p, int) for p in pads):
        raise UnsupportedHere(f"pads {pads} must be {2 * rank} static ints")
    if mode != "constant":
        for i, d in enumerate(x.shape):
            if (pads[i] or pads[rank + i]) and not isinstance(d, int):
                raise UnsupportedHere(f"{mode} padding of the symbolic axis {i}")
            if mode == "reflect" and max(pads[i], pads[rank + i]) >= (d if isinstance(d, int) else 0) > 0:
                raise UnsupportedHere(f"reflect padding of {max(pads[i], pads[rank + i])} on an axis of {d}")
    if x.dtype is DType.BOOL:
        value = bool(value)
    return [ctx.op(Op.PAD, [x], pads=tuple(pads), mode=mode, value=value)]


@onnx_op("Trilu")
def _trilu(ctx, node, inputs, attrs):
    k = 0
    if len(inputs) > 1 and inputs[1] is not None:
        k = int(ctx.scalar(inputs[1], "Trilu's k"))
    if any(isinstance(d, int) and d == 0 for d in inputs[0].shape):
        raise UnsupportedHere("empty tensors are not supported")
    return [ctx.op(Op.TRILU, [inputs[0]], upper=int(attrs.get("upper", 1)), k=k)]


@onnx_op("Range")
def _range(ctx, node, inputs, attrs):
    start, limit, delta = inputs[:3]
    dtype = start.dtype
    if all(v.const is not None for v in (start, limit, delta)):
        if any(v.const.size != 1 for v in (start, limit, delta)):
            raise ModelFormatError("Range's start, limit and delta must be scalars")
        s, l, d = (v.const.reshape(()).item() for v in (start, limit, delta))
        if d == 0:
            raise UnsupportedHere("Range delta is 0")
        count = np.ceil((l - s) / d)
        if not np.isfinite(count):
            raise ModelFormatError(f"Range({s}, {l}, {d}) has no finite length")
        n = max(int(count), 0)
        check_elements((n,), "Range's output", ctx.graph.meta.get("max_elements", INDEX_LIMIT))  # before arange
        values = (np.asarray(s, dtype=dtype.numpy) + np.arange(n).astype(dtype.numpy) * np.asarray(d, dtype.numpy))
        return [ctx.const(values.astype(dtype.numpy), name=node.output[0])]
    if dtype.is_float:
        for v, w in ((start, "start"), (limit, "limit"), (delta, "delta")):
            ctx.scalar(v, f"Range's {w} (a float Range is computed at compile time)")
    s, l, d = (ctx.ints(v, f"Range's {w}")[0] for v, w in ((start, "start"), (limit, "limit"), (delta, "delta")))
    if not isinstance(d, int) or d == 0:
        raise UnsupportedHere("Range delta must be a static non-zero int")
    n = (l - s + d - 1) // d if d > 0 else (s - l - d - 1) // (-d)
    if isinstance(n, int) and n <= 0:
        raise UnsupportedHere("empty Range results are not supported")
    return [ctx.op(Op.RANGE, [], start=s, delta=d, size=n, dtype=dtype)]


@onnx_op("Size")
def _size(ctx, node, inputs, attrs):
    n = inputs[0].type.numel
    if isinstance(n, int):
        return [ctx.const(np.array(n, dtype=np.int64), name=node.output[0])]
    out = ctx.op(Op.SIZE, [inputs[0]])
    ctx.set_symdata(out, [n])
    return [out]


@onnx_op("CumSum", "CumProd")
def _cumulative(ctx, node, inputs, attrs):
    x = inputs[0]
    if x.dtype is DType.BOOL:
        raise UnsupportedHere(f"{node.op_type} of bool is not supported")
    axis = normalize_axis(int(ctx.scalar(inputs[1], f"{node.op_type}'s axis")), x.type.rank)
    op = Op.CUM_SUM if node.op_type == "CumSum" else Op.CUM_PROD
    return [ctx.op(op, [x], axis=axis, exclusive=int(attrs.get("exclusive", 0)),
                   reverse=int(attrs.get("reverse", 0)))]


@onnx_op("TopK")
def _topk(ctx, node, inputs, attrs):
    x = inputs[0]
    if x.dtype is DType.BOOL:
        raise UnsupportedHere("TopK of bool is not supported")
    axis = normalize_axis(int(attrs.get("axis", -1)), x.type.rank)
    if ctx.opset >= 10 and inputs[1] is not None and inputs[1].const is None and id(inputs[1]) not in ctx.symdata:
        from .ops_dynamic import topk_runtime

        return topk_runtime(ctx, x, inputs[1], axis, attrs)      # K is data: a host step
    k = int(attrs["k"]) if ctx.opset < 10 else ctx.ints(inputs[1], "TopK's K")[0]
    if not isinstance(k, int) or k < 1:
        raise UnsupportedHere(f"K must be a static positive int, got {k}")
    if not isinstance(x.shape[axis], int):
        raise UnsupportedHere("TopK along a symbolic axis is not supported")
    return ctx.op_all(Op.TOP_K, [x], k=k, axis=axis, largest=int(attrs.get("largest", 1)),
                      sorted=int(attrs.get("sorted", 1)))


@onnx_op("DepthToSpace", "SpaceToDepth")
def _depth_space(ctx, node, inputs, attrs):
    x = inputs[0]
    if x.type.rank != 4:
        raise UnsupportedHere(f"{node.op_type} needs a 4-D input")
    b = int(attrs["blocksize"])
    op = Op.DEPTH_TO_SPACE if node.op_type == "DepthToSpace" else Op.SPACE_TO_DEPTH
    mode = attrs.get("mode", "DCR")
    if mode not in ("DCR", "CRD"):
        raise UnsupportedHere(f"mode {mode!r} is not supported")
    return [ctx.op(op, [x], blocksize=b, mode=mode)]


@onnx_op("EyeLike")
def _eye_like(ctx, node, inputs, attrs):
    x = inputs[0]
    if x.type.rank != 2 or not x.type.is_static:
        raise UnsupportedHere("EyeLike needs a static 2-D input")
    dtype = ctx.dtype(int(attrs["dtype"]), "EyeLike dtype") if "dtype" in attrs else x.dtype
    eye = np.eye(*x.shape, k=int(attrs.get("k", 0)), dtype=dtype.numpy)
    return [ctx.const(eye, name=node.output[0])]
