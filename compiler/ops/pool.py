"""Window operators: Max/Average/Lp pooling, global pooling and LRN.

Pooling attributes are canonical (explicit pads, every default filled). Average pooling
follows ONNX: with ``count_include_pad`` the divisor counts padding inside the declared
pads, never the extra cells that ``ceil_mode`` windows hang past them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ir import DType, Op, TensorType
from .conv import pad_spatial, windows
from .registry import Category, NoAttrs, register_op
from .shapes import window_output
from cortado.runtime.errors import ShapeError


@dataclasses.dataclass(frozen=True)
class PoolAttrs:
    kernel_shape: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    pads: tuple[int, ...] = ()
    dilations: tuple[int, ...] = ()
    ceil_mode: int = 0
    count_include_pad: int = 0   # AveragePool only
    p: int = 2                   # LpPool only


def pool_output_shape(a: PoolAttrs, x: TensorType) -> tuple:
    sp = x.rank - 2
    if sp < 1:
        raise ShapeError(f"pooling needs rank >= 3, got shape {x.shape}")
    for name in ("kernel_shape", "strides", "dilations"):
        if len(getattr(a, name)) != sp:
            raise ShapeError(f"pooling {name} {getattr(a, name)} must have {sp} entries")
    if len(a.pads) != 2 * sp:
        raise ShapeError(f"pooling pads {a.pads} must have {2 * sp} entries")
    for i in range(sp):
        if a.pads[i] >= a.kernel_shape[i] * a.dilations[i] or a.pads[sp + i] >= a.kernel_shape[i] * a.dilations[i]:
            raise ShapeError(f"pooling pad {a.pads} must be smaller than the window {a.kernel_shape}")
    out = [window_output(x.shape[2 + i], a.kernel_shape[i], a.strides[i], a.pads[i], a.pads[sp + i],
                         a.dilations[i], bool(a.ceil_mode)) for i in range(sp)]
    return (x.shape[0], x.shape[1], *out)


def padding_only_windows(a: PoolAttrs, in_sizes, out_sizes) -> bool:
    """Whether some window covers padding alone (pads as wide as a dilated window allows).
    Its max is over no element: onnxruntime gives the type's lowest finite value, and so does
    Cortado (a window of real -inf values stays -inf)."""
    sp = len(a.kernel_shape)
    for i in range(sp):
        n, o = in_sizes[i], out_sizes[i]
        if not (isinstance(n, int) and isinstance(o, int)):
            return True          # decided per launch: assume it can happen
        for j in range(o):
            taps = (j * a.strides[i] - a.pads[i] + t * a.dilations[i] for t in range(a.kernel_shape[i]))
            if not any(0 <= p < n for p in taps):
                return True
    return False


def _pool_windows(a: PoolAttrs, x: np.ndarray, fill: float):
    """Windows of x padded with ``fill``, plus windows of masks: inside-input and inside-pads."""
    sp = x.ndim - 2
    out = pool_output_shape(a, TensorType(x.shape, "float32"))[2:]
    begins = list(a.pads[:sp])
    ends = []
    for i in range(sp):
        eff = (a.kernel_shape[i] - 1) * a.dilations[i] + 1
        need = (out[i] - 1) * a.strides[i] + eff - (x.shape[2 + i] + a.pads[i])
        ends.append(max(need, a.pads[sp + i]))
    xp = pad_spatial(x, begins, ends, fill)
    inside = pad_spatial(np.ones((1, 1) + x.shape[2:], dtype=np.float64), begins, ends, 0.0)
    in_pads = np.zeros_like(inside)
    in_pads[(0, 0) + tuple(slice(0, x.shape[2 + i] + a.pads[i] + a.pads[sp + i]) for i in range(sp))] = 1.0
    # the end padding may hold a window that ceil_mode drops (it would start in the padding):
    # keep exactly the windows shape inference counts
    keep = (slice(None), slice(None)) + tuple(slice(0, o) for o in out)
    w = lambda t: windows(t, a.kernel_shape, a.strides, a.dilations)[keep]
    return w(xp), w(inside), w(in_pads), sp


@register_op(Op.MAX_POOL, Category.WINDOW, inputs=("X",))
class MaxPool:
    """Maximum over each window; padding never wins (it is -inf)."""

    Attrs = PoolAttrs

    def infer(a, x):
        return [TensorType(pool_output_shape(a, x), x.dtype)]

    def reference(a, x):
        # padding never wins (-inf); a window of padding alone gives the type's lowest finite
        # value, as onnxruntime does (see padding_only_windows)
        dtype = DType.from_numpy(x.dtype)
        fill = -np.inf if dtype.is_float else dtype.lowest
        win, inside, _, sp = _pool_windows(a, x, fill)
        axes = tuple(range(-sp, 0))
        out = win.max(axis=axes)
        if dtype.is_float:
            out = np.where(inside.max(axis=axes) > 0, out, dtype.lowest)
        return out.astype(x.dtype)


@register_op(Op.AVERAGE_POOL, Category.WINDOW, inputs=("X",))
class AveragePool:
    """Mean over each window; the divisor follows count_include_pad (see module doc)."""

    Attrs = PoolAttrs

    def infer(a, x):
        return [TensorType(pool_output_shape(a, x), x.dtype)]

    def reference(a, x):
        win, inside, in_pads, sp = _pool_windows(a, x.astype(np.float64), 0.0)
        axes = tuple(range(-sp, 0))
        count = (in_pads if a.count_include_pad else inside).sum(axis=axes)
        return (win.sum(axis=axes) / count).astype(x.dtype)


@register_op(Op.LP_POOL, Category.WINDOW, inputs=("X",))
class LpPool:
    """(sum |x|^p)^(1/p) over each window; padding contributes zero."""

    Attrs = PoolAttrs

    def infer(a, x):
        return [TensorType(pool_output_shape(a, x), x.dtype)]

    def reference(a, x):
        win, _, _, sp = _pool_windows(a, x.astype(np.float64), 0.0)
        s = (np.abs(win) ** a.p).sum(axis=tuple(range(-sp, 0)))
        return (s ** (1.0 / a.p)).astype(x.dtype)


def _global_shape(x: TensorType):
    if x.rank < 3:
        raise ShapeError(f"global pooling needs rank >= 3, got shape {x.shape}")
    return TensorType((x.shape[0], x.shape[1]) + (1,) * (x.rank - 2), x.dtype)


@register_op(Op.GLOBAL_AVERAGE_POOL, Category.REDUCTION, inputs=("X",))
class GlobalAveragePool:
    """Mean over all spatial axes, keeping them as size 1."""

    Attrs = NoAttrs

    def infer(a, x):
        return [_global_shape(x)]

    def reference(a, x):
        return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True, dtype=np.float64).astype(x.dtype)


@register_op(Op.GLOBAL_MAX_POOL, Category.REDUCTION, inputs=("X",))
class GlobalMaxPool:
    """Maximum over all spatial axes, keeping them as size 1."""

    Attrs = NoAttrs

    def infer(a, x):
        return [_global_shape(x)]

    def reference(a, x):
        return x.max(axis=tuple(range(2, x.ndim)), keepdims=True)


@dataclasses.dataclass(frozen=True)
class LRNAttrs:
    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    bias: float = 1.0


@register_op(Op.LRN, Category.WINDOW, inputs=("X",))
class LRN:
    """Local response normalization across channels:
    y = x / (bias + alpha / size * sum_{window} x^2) ** beta, window
    [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to the channels."""

    Attrs = LRNAttrs

    def infer(a, x):
        if x.rank < 3:
            raise ShapeError(f"LRN needs rank >= 3, got shape {x.shape}")
        if a.size < 1:
            raise ShapeError(f"LRN size must be >= 1, got {a.size}")
        return [x]

    def reference(a, x):
        c = x.shape[1]
        sq = x.astype(np.float64) ** 2
        lo, hi = (a.size - 1) // 2, a.size - 1 - (a.size - 1) // 2
        padded = np.pad(sq, [(0, 0), (lo, hi)] + [(0, 0)] * (x.ndim - 2))
        acc = sum(padded[:, i:i + c] for i in range(a.size))
        return (x / (a.bias + a.alpha / a.size * acc) ** a.beta).astype(x.dtype)
