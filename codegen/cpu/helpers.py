"""Helper functions of the generated numpy module (the ``cpu`` target).

Each function here is copied by source into the generated module when a kernel uses it
(``helper_source``), so the module runs with numpy alone, after ``cortado.runtime.load``,
without importing the compiler. They may use ``np``, ``as_strided``, ``itertools`` and the
other helpers named in ``NEEDS``; nothing else.

Convolutions are windows + one matmul per call (numpy's BLAS; it releases the GIL, so
concurrent calls run in parallel); depthwise convolutions and pooling are one whole-tensor
operation per kernel tap.
"""

from __future__ import annotations

import inspect
import itertools

import numpy as np
from numpy.lib.stride_tricks import as_strided


def cdiv(a, b):
    return -(-a // b)


def box(flat, shape, strides):
    """The box of a placed Concat's buffer that one value occupies: ``flat`` starts at the
    value's first element; ``strides`` are the buffer's element strides."""
    item = flat.itemsize
    return as_strided(flat, shape=shape, strides=tuple(s * item for s in strides))


def store(out, result):
    """Write ``result`` (any broadcastable array or scalar) into the output array ``out``."""
    if result is not out:
        np.copyto(out, result, casting="unsafe")


def pad_const(x, begins, ends, value):
    """``x`` padded on its trailing axes (``begins``/``ends`` for the last ``len(begins)``)."""
    if not any(begins) and not any(ends):
        return x
    lead = x.ndim - len(begins)
    shape = x.shape[:lead] + tuple(d + b + e for d, b, e in zip(x.shape[lead:], begins, ends))
    xp = np.full(shape, value, dtype=x.dtype)
    xp[(Ellipsis,) + tuple(slice(b, b + d) for b, d in zip(begins, x.shape[lead:]))] = x
    return xp


def taps(xp, kernel, strides, dilations, out_sizes):
    """For each kernel tap, the strided view of ``xp``'s trailing axes that the tap reads."""
    sp = len(kernel)
    for offs in itertools.product(*(range(k) for k in kernel)):
        index = tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                      for o, d, s, n in zip(offs, dilations, strides, out_sizes))
        yield offs, xp[(Ellipsis,) + index] if sp else xp


def conv(x, w, b, strides, pads, dilations, group, out=None):
    """Grouped N-d convolution, NC[D]HW. 1x1 convolutions are one matmul; others copy the
    windows once (im2col) and do one matmul; depthwise ones sum one product per tap."""
    n, c = x.shape[:2]
    sp = x.ndim - 2
    m, k = w.shape[0], w.shape[2:]
    xp = pad_const(x, pads[:sp], pads[sp:], 0)
    eff = [(kk - 1) * d + 1 for kk, d in zip(k, dilations)]
    osz = tuple((xp.shape[2 + i] - eff[i]) // strides[i] + 1 for i in range(sp))
    res = out if out is not None and out.flags.c_contiguous else np.empty((n, m) + osz, dtype=x.dtype)
    if group == c and m == c:                        # depthwise: a product per tap
        wk = w.reshape(c, -1)
        first = True
        for t, (offs, view) in enumerate(taps(xp, k, strides, dilations, osz)):
            wt = wk[:, t].reshape((1, c) + (1,) * sp)
            if first:
                np.multiply(view, wt, out=res)
                tmp = np.empty_like(res)
                first = False
            else:
                np.multiply(view, wt, out=tmp)
                res += tmp
    else:
        length = int(np.prod(osz))
        cg, mg = c // group, m // group
        if all(kk == 1 for kk in k) and all(s == 1 for s in strides):
            cols = xp.reshape(n, group, cg, length)
        else:
            # the windows as one strided view, (n, c, taps..., outputs...), copied once (im2col);
            # built directly: sliding_window_view's checks cost more than a small conv's matmul
            st = xp.strides
            win = as_strided(xp, shape=(n, c) + tuple(k) + osz, writeable=False,
                             strides=st[:2] + tuple(st[2 + i] * dilations[i] for i in range(sp))
                             + tuple(st[2 + i] * strides[i] for i in range(sp)))
            cols = np.ascontiguousarray(win).reshape(n, group, cg * int(np.prod(k)), length)
        wg = w.reshape(1, group, mg, -1)
        np.matmul(wg, cols, out=res.reshape(n, group, mg, length))
    if b is not None:
        res += b.reshape((1, m) + (1,) * sp)
    if out is not None and res is not out:
        out[...] = res
        return out
    return res


def conv_transpose(x, w, b, strides, pads, dilations, group, output_padding):
    """Transposed convolution: one matmul gives every kernel tap's contribution, each added
    into its strided place of the full output, which is then cropped by the pads."""
    n, c = x.shape[:2]
    sp = x.ndim - 2
    k = w.shape[2:]
    cog = w.shape[1]
    cig = c // group
    in_sz = x.shape[2:]
    full = [(in_sz[i] - 1) * strides[i] + (k[i] - 1) * dilations[i] + 1 + output_padding[i] for i in range(sp)]
    y = np.zeros((n, cog * group) + tuple(full), dtype=x.dtype)
    length = int(np.prod(in_sz))
    taps_n = int(np.prod(k))
    wg = w.reshape(group, cig, cog * taps_n).transpose(0, 2, 1)          # g, cog*T, cig
    contrib = np.matmul(wg[None], x.reshape(n, group, cig, length))      # n, g, cog*T, L
    contrib = contrib.reshape((n, group, cog) + tuple(k) + tuple(in_sz))
    for kidx in itertools.product(*(range(kk) for kk in k)):
        index = (slice(None), slice(None)) + tuple(
            slice(kk * d, kk * d + (in_sz[i] - 1) * s + 1, s)
            for i, (kk, d, s) in enumerate(zip(kidx, dilations, strides)))
        y[index] += contrib[(slice(None), slice(None), slice(None)) + kidx].reshape((n, cog * group) + tuple(in_sz))
    y = y[(slice(None), slice(None)) + tuple(slice(pads[i], full[i] - pads[sp + i]) for i in range(sp))]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * sp)
    return y


def gemm(a, b, c, alpha, beta, trans_a, trans_b):
    y = np.matmul(a.T if trans_a else a, b.T if trans_b else b)
    if alpha != 1.0:
        y *= y.dtype.type(alpha)
    if c is not None:
        y += c if beta == 1.0 else c * c.dtype.type(beta)
    return y


def pool(x, kind, kernel, strides, pads, dilations, ceil_mode, count_include_pad, out_sizes, p=2):
    """Max or average pooling over the trailing axes, a whole-tensor max/add per tap. Padding
    never wins a max; a window of padding alone gives the type's lowest value (as
    onnxruntime); the average divides by the window's inside (or inside-pads) count."""
    sp = len(kernel)
    begins = list(pads[:sp])
    ends = []
    for i in range(sp):
        eff = (kernel[i] - 1) * dilations[i] + 1
        need = (out_sizes[i] - 1) * strides[i] + eff - (x.shape[-sp + i] + pads[i])
        ends.append(max(need, pads[sp + i]))
    floating = x.dtype.kind == "f"
    if kind == "max":
        low = -np.inf if floating else np.iinfo(x.dtype).min
        xp = pad_const(x, begins, ends, low)
        acc = None
        for _, view in taps(xp, kernel, strides, dilations, out_sizes):
            acc = view.copy() if acc is None else np.maximum(acc, view, out=acc)
        if floating and (any(begins) or any(ends)):
            inside = pad_const(np.ones(x.shape[-sp:], dtype=np.float32), begins, ends, 0)
            seen = None
            for _, view in taps(inside, kernel, strides, dilations, out_sizes):
                seen = view.copy() if seen is None else np.maximum(seen, view, out=seen)
            if floating and not seen.all():
                acc = np.where(seen > 0, acc, np.finfo(x.dtype).min)
        return acc
    xp = pad_const(x, begins, ends, 0)
    if kind == "lp":                                 # (sum |x|^p)^(1/p); padding adds zero
        acc = sum(np.abs(view.astype(np.float64)) ** p for _, view in taps(xp, kernel, strides, dilations, out_sizes))
        return (acc ** (1.0 / p)).astype(x.dtype)
    acc = None
    for _, view in taps(xp, kernel, strides, dilations, out_sizes):
        acc = view.astype(np.float32 if x.dtype.itemsize <= 4 else x.dtype) if acc is None else acc.__iadd__(view)
    mask = pad_const(np.ones(x.shape[-sp:], dtype=np.float32), begins, ends, 0)
    if count_include_pad:
        mask = np.zeros(mask.shape, dtype=np.float32)
        mask[tuple(slice(0, x.shape[-sp + i] + pads[i] + pads[sp + i]) for i in range(sp))] = 1
    count = None
    for _, view in taps(mask, kernel, strides, dilations, out_sizes):
        count = view.copy() if count is None else count.__iadd__(view)
    return (acc / count).astype(x.dtype)


def erf(x):
    """erf to float32 accuracy (Abramowitz-Stegun 7.1.26 refined; |error| < 1.5e-7)."""
    a = np.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
               + 0.254829592) * t * np.exp(-a * a)
    return (np.sign(x) * y).astype(x.dtype)


def softmax(x, axis, log=False):
    m = x.max(axis=axis, keepdims=True, initial=-np.inf)     # initial: an empty axis (no keys)
    e = x - m
    if log:
        return e - np.log(np.exp(e).sum(axis=axis, keepdims=True))
    np.exp(e, out=e)
    e /= e.sum(axis=axis, keepdims=True)
    return e


def normalize(x, axes, eps):
    """(x - mean) / sqrt(var + eps) over ``axes``, statistics in float64 for float32 inputs
    only where needed: float32 sums of a row are exact enough for the tolerance of the
    model tests and four times cheaper."""
    mean = x.mean(axis=axes, keepdims=True)
    d = x - mean
    var = np.mean(d * d, axis=axes, keepdims=True)
    d /= np.sqrt(var + x.dtype.type(eps))
    return d


def reduce(x, kind, axes, keepdims):
    """An empty axis gives the identity, as onnxruntime does (max -inf, min +inf, mean 0)."""
    f = x.astype(np.float64) if x.dtype.kind == "f" and kind not in ("max", "min") else x
    if kind == "sum":
        r = f.sum(axis=axes, keepdims=keepdims)
    elif kind == "mean":
        n = max(1, int(np.prod([x.shape[a] for a in axes])))
        r = f.sum(axis=axes, keepdims=keepdims) / n if x.dtype.kind == "f" else \
            np.trunc(f.astype(np.int64).sum(axis=axes, keepdims=keepdims) / n)
    elif kind == "max":
        low = -np.inf if x.dtype.kind == "f" else False if x.dtype.kind == "b" else np.iinfo(x.dtype).min
        r = x.max(axis=axes, keepdims=keepdims, initial=low)
    elif kind == "min":
        high = np.inf if x.dtype.kind == "f" else True if x.dtype.kind == "b" else np.iinfo(x.dtype).max
        r = x.min(axis=axes, keepdims=keepdims, initial=high)
    elif kind == "prod":
        r = f.prod(axis=axes, keepdims=keepdims)
    elif kind == "l1":
        r = np.abs(f).sum(axis=axes, keepdims=keepdims)
    elif kind == "l2":
        r = np.sqrt(np.square(f).sum(axis=axes, keepdims=keepdims))
    elif kind == "sumsquare":
        r = np.square(f).sum(axis=axes, keepdims=keepdims)
    elif kind == "logsum":
        r = np.log(f.sum(axis=axes, keepdims=keepdims))
    else:                                            # logsumexp
        m = f.max(axis=axes, keepdims=True, initial=-np.inf)
        m = np.where(np.isfinite(m), m, 0.0)
        r = np.log(np.exp(f - m).sum(axis=axes, keepdims=True)) + m
        if not keepdims:
            r = np.squeeze(r, axis=axes)
    return np.asarray(r).astype(x.dtype, copy=False)


def arg_reduce(x, axis, largest, keepdims, last):
    pick = np.argmax if largest else np.argmin
    if last:
        idx = x.shape[axis] - 1 - pick(np.flip(x, axis=axis), axis=axis)
    else:
        idx = pick(x, axis=axis)
    idx = idx.astype(np.int64)
    return np.expand_dims(idx, axis) if keepdims else idx


def take(x, idx, axis):
    n = x.shape[axis]
    return np.take(x, np.where(idx < 0, idx + n, idx), axis=axis, mode="clip")


# helper -> helpers its source calls
NEEDS = {"conv": ("pad_const", "taps"), "pool": ("pad_const", "taps")}


def helper_source(names) -> str:
    """Source of the named helpers and those they call, in a fixed order."""
    want = set()
    stack = list(names)
    while stack:
        n = stack.pop()
        if n not in want:
            want.add(n)
            stack.extend(NEEDS.get(n, ()))
    order = [n for n in ORDER if n in want]
    return "\n\n".join(inspect.getsource(globals()[n]).rstrip() for n in order)




def cumulative(x, axis, kind, exclusive, reverse):
    acc = x.astype(np.float64) if x.dtype.kind == "f" else x
    y = np.flip(acc, axis) if reverse else acc
    if kind == "sum":
        s = np.cumsum(y, axis=axis)
        if exclusive:
            s = s - y
    else:
        if exclusive:
            ones = np.ones_like(np.take(y, [0], axis=axis))
            y = np.concatenate([ones, np.delete(y, -1, axis=axis)], axis=axis)
        s = np.cumprod(y, axis=axis)
    if reverse:
        s = np.flip(s, axis)
    return s.astype(x.dtype)


def top_k(x, k, axis, largest):
    """The k largest (smallest) along ``axis`` and their indices; ties keep the lower index."""
    key = x
    if largest:
        key = -(x.astype(np.float64)) if x.dtype.kind == "u" else -x
    order = np.argsort(key, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)


def hardmax(x, axis):
    idx = np.expand_dims(np.argmax(x, axis=axis), axis)
    out = np.zeros_like(x)
    np.put_along_axis(out, idx, 1, axis=axis)
    return out


def lp_normalize(x, axis, p):
    f = x.astype(np.float64)
    norm = np.abs(f).sum(axis=axis, keepdims=True) if p == 1 else np.sqrt((f * f).sum(axis=axis, keepdims=True))
    return np.where(norm == 0, 0.0, f / np.where(norm == 0, 1.0, norm)).astype(x.dtype)


def resize(x, rows):
    """Resize as one gather per resized axis: ``rows`` is (axis, taps, weights) with the source
    indices of each tap over the output positions and, unless nearest, the tap's weights."""
    out = x.astype(np.float32) if x.dtype.kind in "iu" else x
    for axis, taps, weights in rows:
        if weights is None:
            out = np.take(out, np.asarray(taps[0]), axis=axis)
            continue
        shape = [1] * x.ndim
        shape[axis] = len(taps[0])
        acc = None
        for idx, wt in zip(taps, weights):
            term = np.take(out, np.asarray(idx), axis=axis) * np.asarray(wt, dtype=out.dtype).reshape(shape)
            acc = term if acc is None else acc + term
        out = acc
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(x.dtype, copy=False)


ORDER = ("cdiv", "box", "store", "pad_const", "taps", "conv", "conv_transpose", "gemm", "pool", "erf", "softmax", "normalize",
         "reduce", "arg_reduce", "take", "cumulative", "top_k", "hardmax", "lp_normalize", "resize")
