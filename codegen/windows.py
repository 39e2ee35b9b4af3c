"""Window ops (pooling, LRN) as loops over the window inside an output-indexed kernel.

Each output element loops over its window's taps with static bounds, loading the input at
the tap's coordinates under a bounds guard, so padding costs no memory. Because they are
lowered per output element they fuse with pointwise producers and consumers like any
elementwise op.
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np

from cortado.ir import DType, Op
from cortado.ops.pool import padding_only_windows
from cortado.ops.resize import antialias_offsets, resized_axes

from . import exprs
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
    is_float = src.dtype.is_float
    acc = w.assign("acc", w.full(float("-inf") if is_float else src.dtype.lowest, src.dtype))
    seen = None
    if is_float and padding_only_windows(node.attrs, src.shape[2:], value.shape[2:]):
        seen = w.assign("seen", f"tl.full({w.tile}, 0, tl.int1)")

    # NaN propagates, on GPUs as on the interpreter (as the Max op does)
    nan = ", propagate_nan=tl.PropagateNan.ALL" if is_float else ""

    def tap(coords, g):
        v = w.value_at(src, coords, g)
        step = f"tl.maximum({acc}, {v}{nan})"
        w.line(f"{acc} = tl.where({g}, {step}, {acc})" if g else f"{acc} = {step}")
        if seen is not None:
            w.line(f"{seen} = {seen} | {g}" if g else f"{seen} = {seen} | True")

    _spatial_taps(w, node, value, index, guard, tap)
    if seen is None:
        return acc
    return f"tl.where({seen}, {acc}, {exprs.literal(src.dtype.lowest, src.dtype)})"


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
        if g and w.zero_outside.get(x, "") != g:
            # a fused prologue is computed at padding taps too (a constant term makes it
            # nonzero there): only a plain masked load is already 0 outside the input
            w.line(f"{acc} += tl.where({g}, {x} * {k}, 0.0)")
        else:
            w.line(f"{acc} += {x} * {k}")
    if bias is not None:
        return f"({acc} + {w.value_at(bias, (index[1],), guard)})"
    return acc


# -- Resize -------------------------------------------------------------------------------------
def _source_coordinate(w, a, axis, y, n_in, n_out, rank):
    """Kernel text of the source coordinate (float64, so floor/round decisions match the
    reference exactly) for output coordinate text ``y``."""
    scale = a.scales[axis]
    mode = a.coordinate_transformation_mode
    out_w = scale * n_in
    yf = f"tl.full([], {y}, tl.float64)" if y.lstrip("-").isdigit() else f"{y}.to(tl.float64)"
    if mode == "align_corners":
        return f"({yf} * 0.0)" if out_w == 1 else f"({yf} * {float(n_in - 1)!r} / {float(out_w - 1)!r})"
    if mode == "asymmetric":
        return f"({yf} / {scale!r})"
    if mode == "pytorch_half_pixel":
        return f"({yf} * 0.0 - 0.5)" if out_w == 1 else f"(({yf} + 0.5) / {scale!r} - 0.5)"
    if mode == "half_pixel":
        return f"(({yf} + 0.5) / {scale!r} - 0.5)"
    if mode == "half_pixel_symmetric":
        offset = n_in / 2 * (1 - n_out / out_w)
        return f"({offset!r} + ({yf} + 0.5) / {scale!r} - 0.5)"
    lo, hi = a.roi[axis], a.roi[rank + axis]
    if out_w == 1:
        return f"({yf} * 0.0 + {(hi - lo) * (n_in - 1) / 2 + lo * (n_in - 1)!r})"
    return f"({yf} * {(hi - lo) * (n_in - 1) / (out_w - 1)!r} + {lo * (n_in - 1)!r})"


def _axis_taps(w, a, axis, x, n_in, ct):
    """[(index expression, weight text or None)] for one axis."""
    f = w.assign("r", f"tl.floor({x})")
    last = float(n_in - 1)

    def clamp(e):
        v = w.assign("i", f"tl.minimum(tl.maximum({e}, 0.0), {last!r}).to(tl.int32)")
        return ix.var(v)

    if a.mode == "nearest":
        mode = a.nearest_mode
        if mode == "simple":
            mode = "floor" if a.scales[axis] >= 1.0 else "ceil"
        pick = {"round_prefer_floor": f"tl.where({x} - {f} > 0.5, {f} + 1.0, {f})",
                "round_prefer_ceil": f"tl.where({x} - {f} >= 0.5, {f} + 1.0, {f})",
                "floor": f, "ceil": f"tl.ceil({x})"}[mode]
        return [(clamp(pick), None)]
    t = w.assign("r", f"({x} - {f}).to({ct})")
    if a.antialias and a.scales[axis] < 1.0:
        offsets, s = antialias_offsets(a, a.scales[axis])
        A = float(a.cubic_coeff_a)
        raw = []
        for o in offsets:
            u = w.assign("r", f"tl.abs(({float(o)!r} - {t}) * {s!r})")
            if a.mode == "linear":
                raw.append(w.assign("r", f"tl.minimum(tl.maximum(1.0 - {u}, 0.0), 1.0)"))
            else:
                raw.append(w.assign("r", f"tl.where({u} <= 1.0, (({A + 2!r}) * {u} - {A + 3!r}) * {u} * {u} + 1.0, "
                                         f"tl.where({u} < 2.0, (({A!r} * {u} - {5 * A!r}) * {u} + {8 * A!r}) * {u}"
                                         f" - {4 * A!r}, 0.0))"))
        total = w.assign("r", " + ".join(raw))
        weights = [f"({r} / {total})" for r in raw]
    elif a.mode == "linear":
        offsets = [0, 1]
        weights = [f"(1.0 - {t})", t]
    else:
        A = float(a.cubic_coeff_a)
        s = w.assign("r", f"(1.0 - {t})")
        weights = [f"((({A!r} * ({t} + 1.0) - {5 * A!r}) * ({t} + 1.0) + {8 * A!r}) * ({t} + 1.0) - {4 * A!r})",
                   f"((({A + 2!r}) * {t} - {A + 3!r}) * {t} * {t} + 1.0)",
                   f"((({A + 2!r}) * {s} - {A + 3!r}) * {s} * {s} + 1.0)",
                   f"((({A!r} * ({s} + 1.0) - {5 * A!r}) * ({s} + 1.0) + {8 * A!r}) * ({s} + 1.0) - {4 * A!r})"]
        offsets = [-1, 0, 1, 2]
    weights = [w.assign("r", wt) for wt in weights]
    if a.exclude_outside:
        kept = []
        for o, wt in zip(offsets, weights):
            pos = f"({f} + {float(o)!r})"
            kept.append(w.assign("r", f"tl.where(({pos} >= 0.0) & ({pos} <= {last!r}), {wt}, 0.0)"))
        total = w.assign("r", " + ".join(kept))
        weights = [w.assign("r", f"{k} / tl.where({total} == 0.0, 1.0, {total})") for k in kept]
    return [(clamp(f"({f} + {float(o)!r})"), wt) for o, wt in zip(offsets, weights)]


@lowering(Op.RESIZE)
def _resize(w, node, value, index, guard):
    a = node.attrs
    src = node.inputs[0]
    rank = len(index)
    ct = "tl.float64" if src.dtype is DType.FLOAT64 else "tl.float32"
    per_axis, ext = {}, []
    for axis in resized_axes(a, src.shape):
        n_in, n_out = src.shape[axis], a.sizes[axis]
        x = w.assign("r", _source_coordinate(w, a, axis, w.idx(index[axis]), n_in, n_out, rank))
        if a.coordinate_transformation_mode == "tf_crop_and_resize":
            ext.append(f"({x} < 0.0) | ({x} > {float(n_in - 1)!r})")
        per_axis[axis] = _axis_taps(w, a, axis, x, n_in, ct)
    axes = sorted(per_axis)
    terms = []
    for combo in itertools.product(*(per_axis[k] for k in axes)):
        at = list(index)
        ws = []
        for k, (i, wt) in zip(axes, combo):
            at[k] = i
            if wt is not None:
                ws.append(wt)
        v = w.value_at(src, tuple(at), guard)
        if ws and not src.dtype.is_float:
            v = f"{v}.to({ct})"
        terms.append(" * ".join(ws + [v]) if ws else v)
    out = w.assign("acc", " + ".join(terms))
    if ext:
        e = " | ".join(f"({c})" for c in ext)
        fill = exprs.literal(a.extrapolation_value, value.dtype) if a.mode == "nearest" \
            else repr(float(a.extrapolation_value))
        out = w.assign("acc", f"tl.where({e}, {fill}, {out})")
    if not value.dtype.is_float and a.mode != "nearest":
        info = np.iinfo(value.dtype.numpy)
        w.helpers.add("_round_half_even")
        out = (f"tl.minimum(tl.maximum(_round_half_even({out}), {float(info.min)!r}), {float(info.max)!r})"
               f".to({value.dtype.triton_lang})")
    return out


# -- GridSample -------------------------------------------------------------------------------
def _reflect_text(w, v: str, lo: float, hi: float) -> str:
    """Kernel text folding float ``v`` into [lo, hi] (see cortado.ops.resize.reflect)."""
    rng = hi - lo
    if rng <= 0:
        return f"({v} * 0.0 + {lo!r})"
    dx = w.assign("r", f"tl.where({v} < {lo!r}, {lo!r} - {v}, {v} - {hi!r})")
    n = w.assign("r", f"tl.floor({dx} / {rng!r})")
    r = w.assign("r", f"{dx} - {n} * {rng!r}")
    even = w.assign("r", f"({n} - 2.0 * tl.floor({n} * 0.5)) == 0.0")
    folded = f"tl.where({v} < {lo!r}, tl.where({even}, {lo!r} + {r}, {hi!r} - {r}), " \
             f"tl.where({even}, {hi!r} - {r}, {lo!r} + {r}))"
    return w.assign("r", f"tl.where(({v} < {lo!r}) | ({v} > {hi!r}), {folded}, {v})")


@lowering(Op.GRID_SAMPLE)
def _grid_sample(w, node, value, index, guard):
    """Per output point: read its grid coordinates, map them to input coordinates, then sum
    the taps (1, 2 or 4 per axis) with their weights; padding decides what a tap outside
    the input reads (zero, the border pixel, or the reflected pixel)."""
    a = node.attrs
    x, grid = node.inputs
    sp = x.type.rank - 2
    dims = x.shape[2:]
    ac = bool(a.align_corners)
    n_idx, out_idx = index[0], tuple(index[2:])
    per_axis = []
    for i in range(sp):
        g = w.value_at(grid, (n_idx,) + out_idx + (ix.const(sp - 1 - i),), guard)
        d = dims[i]
        v = w.assign("r", f"({g} + 1.0) * 0.5 * {float(d - 1)!r}" if ac else f"(({g} + 1.0) * {float(d)!r} - 1.0) * 0.5")
        if a.mode == "nearest":
            w.helpers.add("_round_half_even")
            v = w.assign("r", f"_round_half_even({v})")
        lo, hi = (0.0, float(d - 1)) if ac else (-0.5, d - 0.5)
        if a.padding_mode == "border":
            v = w.assign("r", f"tl.minimum(tl.maximum({v}, 0.0), {float(d - 1)!r})")
        elif a.padding_mode == "reflection":
            v = _reflect_text(w, v, lo, hi)
        taps = []
        if a.mode == "nearest":
            taps = [(v, None)]
        else:
            f = w.assign("r", f"tl.floor({v})")
            t = w.assign("r", f"{v} - {f}")
            if a.mode == "linear":
                taps = [(f, f"(1.0 - {t})"), (f"({f} + 1.0)", t)]
            else:
                s = w.assign("r", f"(1.0 - {t})")
                A = -0.75
                ws = [f"((({A!r} * ({t} + 1.0) - {5 * A!r}) * ({t} + 1.0) + {8 * A!r}) * ({t} + 1.0) - {4 * A!r})",
                      f"((({A + 2!r}) * {t} - {A + 3!r}) * {t} * {t} + 1.0)",
                      f"((({A + 2!r}) * {s} - {A + 3!r}) * {s} * {s} + 1.0)",
                      f"((({A!r} * ({s} + 1.0) - {5 * A!r}) * ({s} + 1.0) + {8 * A!r}) * ({s} + 1.0) - {4 * A!r})"]
                taps = [(f"({f} + {float(k - 1)!r})", w.assign("r", ws[k])) for k in range(4)]
        resolved = []
        for pos, wt in taps:
            if a.padding_mode == "zeros":
                ok = f"({pos} >= 0.0) & ({pos} <= {float(d - 1)!r})"
                j = f"tl.minimum(tl.maximum({pos}, 0.0), {float(d - 1)!r})"
            elif a.padding_mode == "border":
                ok, j = None, f"tl.minimum(tl.maximum({pos}, 0.0), {float(d - 1)!r})"
            else:
                ok, j = None, f"tl.minimum(tl.maximum({_reflect_text(w, pos, lo, hi)}, 0.0), {float(d - 1)!r})"
            jv = w.assign("i", f"({j}).to(tl.int32)")     # truncation, as the reference's int()
            resolved.append((ix.var(jv), wt, w.assign("g", ok) if ok else None))
        per_axis.append(resolved)
    terms = []
    for combo in itertools.product(*per_axis):
        at = (n_idx, index[1]) + tuple(j for j, _, _ in combo)
        val = w.value_at(x, at, guard)
        factors = [wt for _, wt, _ in combo if wt is not None]
        oks = [ok for _, _, ok in combo if ok is not None]
        term = " * ".join(factors + [val]) if factors else val
        if oks:
            term = f"tl.where({' & '.join(oks)}, {term}, 0.0)"
        terms.append(term)
    return w.assign("acc", " + ".join(terms))
