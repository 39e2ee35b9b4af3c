"""Window ops (pooling, LRN) as loops over the window inside an output-indexed kernel.

Each output element loops over its window's taps with static bounds, loading the input at
the tap's coordinates under a bounds guard, so padding costs no memory. Because they are
lowered per output element they fuse with pointwise producers and consumers like any
elementwise op.
"""

from __future__ import annotations

import contextlib

from compiler.ir import Op

from . import index as ix
from .writer import lowering


def _spatial_taps(w, node, value, index, guard, body):
    """Emit nested loops over the kernel taps; ``body(coords, tap_guard)`` emits one tap."""
    a = node.attrs
    src = node.inputs[0]
    with contextlib.ExitStack() as stack:
        loops = [stack.enter_context(w.loop(k)) for k in a.kernel_shape]
        coords = list(index[:2])
        conds = []
        for i, t in enumerate(loops):
            c = ix.add(ix.sub(ix.mul(index[2 + i], a.strides[i]), a.pads[i]), ix.mul(ix.var(t), a.dilations[i]))
            coords.append(c)
            conds.append(w.bound_check(c, src.shape[2 + i]))
        body(tuple(coords), w.guard(guard, *conds))


@lowering(Op.MAX_POOL)
def _maxpool(w, node, value, index, guard):
    src = node.inputs[0]
    acc = w.assign("acc", w.full(float("-inf") if src.dtype.is_float else -2**31, src.dtype))

    def tap(coords, g):
        v = w.value_at(src, coords, g)
        w.line(f"{acc} = tl.where({g}, tl.maximum({acc}, {v}), {acc})" if g else f"{acc} = tl.maximum({acc}, {v})")

    _spatial_taps(w, node, value, index, guard, tap)
    return acc


@lowering(Op.AVERAGE_POOL, Op.LP_POOL)
def _avgpool(w, node, value, index, guard):
    a = node.attrs
    src = node.inputs[0]
    acc = w.assign("acc", w.full(0.0, src.dtype))
    lp = node.op is Op.LP_POOL
    cnt = None if lp or a.count_include_pad else w.assign("cnt", w.full(0.0, src.dtype))

    def tap(coords, g):
        v = w.value_at(src, coords, g)
        term = v
        if lp:
            w.helpers.add("_pow")
            term = {1: f"tl.abs({v})", 2: f"{v} * {v}"}.get(a.p, f"_pow(tl.abs({v}), {float(a.p)!r})")
        w.line(f"{acc} += tl.where({g}, {term}, 0.0)" if g else f"{acc} += {term}")
        if cnt is not None:
            w.line(f"{cnt} += tl.where({g}, 1.0, 0.0)" if g else f"{cnt} += 1.0")

    _spatial_taps(w, node, value, index, guard, tap)
    if lp:
        return {1: acc, 2: f"tl.sqrt_rn({acc})"}.get(a.p, f"_pow({acc}, {1.0 / a.p!r})")
    if cnt is not None:
        return f"({acc} / tl.maximum({cnt}, 1.0))"
    # count_include_pad: divide by the window clipped to the padded extent (not ceil overhang)
    sp = len(a.kernel_shape)
    size = None
    for i in range(sp):
        start = ix.sub(ix.mul(index[2 + i], a.strides[i]), a.pads[i])
        eff = (a.kernel_shape[i] - 1) * a.dilations[i] + 1
        limit = ix.dim(src.shape[2 + i] + a.pads[sp + i])
        end = w.idx(ix.minimum(ix.add(start, eff), limit))
        taps = f"(({end} - {w.idx(start)} + {a.dilations[i] - 1}) // {a.dilations[i]})"
        size = taps if size is None else f"{size} * {taps}"
    return f"({acc} / ({size}).to(tl.float32))"


@lowering(Op.LRN)
def _lrn(w, node, value, index, guard):
    a = node.attrs
    src = node.inputs[0]
    lo = (a.size - 1) // 2
    acc = w.assign("acc", w.full(0.0, src.dtype))
    with w.loop(a.size) as t:
        c = ix.add(ix.sub(index[1], lo), ix.var(t))
        g = w.guard(guard, w.bound_check(c, src.shape[1]))
        v = w.value_at(src, (index[0], c) + tuple(index[2:]), g)
        w.line(f"{acc} += tl.where({g}, {v} * {v}, 0.0)")
    x = w.value_at(src, index, guard)
    base = f"({a.bias!r} + {a.alpha / a.size!r} * {acc})"
    if a.beta == 0.75:
        scale = f"tl.sqrt_rn({base} * tl.sqrt_rn({base}))"
        return f"({x} / {scale})"
    w.helpers.add("_pow")
    return f"({x} / _pow({base}, {float(a.beta)!r}))"


@lowering(Op.CONV)
def _depthwise_conv(w, node, value, index, guard):
    """Convolutions with one input channel per group (depthwise, channel multiplier m):
    output channel c reads input channel c // m. A tap loop per output element beats a GEMM
    whose reduction is only the kernel taps."""
    a = node.attrs
    src, wt = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    mult = wt.shape[0] // a.group
    acc = w.assign("acc", w.full(0.0, src.dtype))
    cin = ix.floordiv(index[1], ix.dim(mult)) if mult != 1 else index[1]
    with contextlib.ExitStack() as stack:
        loops = [stack.enter_context(w.loop(k)) for k in a.kernel_shape]
        coords = [index[0], cin]
        conds = []
        for i, t in enumerate(loops):
            c = ix.add(ix.sub(ix.mul(index[2 + i], a.strides[i]), a.pads[i]), ix.mul(ix.var(t), a.dilations[i]))
            coords.append(c)
            conds.append(w.bound_check(c, src.shape[2 + i]))
        g = w.guard(guard, *conds)
        x = w.value_at(src, tuple(coords), g)
        k = w.value_at(wt, (index[1], ix.const(0)) + tuple(ix.var(t) for t in loops), guard)
        w.line(f"{acc} += {x} * {k}")
    if bias is not None:
        return f"({acc} + {w.value_at(bias, (index[1],), guard)})"
    return acc
