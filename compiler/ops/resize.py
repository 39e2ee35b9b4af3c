"""Resize: nearest, linear and cubic interpolation over any axes (Upsample imports as this).

Attributes are canonical: ``sizes`` is the output shape, ``scales`` the per-axis factor the
coordinate transform divides by (output/input when sizes were given), ``roi`` the crop box of
``tf_crop_and_resize`` (starts..., ends..., normalized), all per axis. Each resized axis maps
an output coordinate ``y`` to a source coordinate ``x`` (``source_coordinate``); nearest picks
one tap, linear two (floor(x), floor(x)+1) and cubic four (floor(x)-1 .. floor(x)+2); taps
outside the input repeat the edge, or are dropped and the weights renormalized with
``exclude_outside``. The interpolation is separable, so an N-axis resize is the product of
per-axis weights.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..ir import Op, TensorType
from ..ir.dims import Dim
from .registry import Category, register_op
from runtime.errors import ShapeError

COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                    "tf_crop_and_resize")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple")   # simple: floor up, ceil down (opset < 11)


@dataclasses.dataclass(frozen=True)
class ResizeAttrs:
    sizes: tuple[Dim, ...] = ()
    scales: tuple[float, ...] = ()
    roi: tuple[float, ...] = ()              # empty unless tf_crop_and_resize
    mode: str = "nearest"                    # nearest | linear | cubic
    coordinate_transformation_mode: str = "half_pixel"
    nearest_mode: str = "round_prefer_floor"
    cubic_coeff_a: float = -0.75
    exclude_outside: int = 0
    extrapolation_value: float = 0.0


def resized_axes(a: ResizeAttrs, in_shape) -> list[int]:
    """Axes the resize changes (others are copied through)."""
    out = []
    r = len(in_shape)
    for i, (d, s, n) in enumerate(zip(in_shape, a.scales, a.sizes)):
        crop = bool(a.roi) and (a.roi[i] != 0.0 or a.roi[r + i] != 1.0)
        if s != 1.0 or n != d or crop:
            out.append(i)
    return out


def source_coordinate(a: ResizeAttrs, axis: int, y, in_len: int, out_len: int, rank: int):
    """The source coordinate of output coordinate ``y`` (numpy arrays or floats)."""
    scale = a.scales[axis]
    mode = a.coordinate_transformation_mode
    out_w = scale * in_len
    if mode == "align_corners":
        return y * 0.0 if out_w == 1 else y * (in_len - 1) / (out_w - 1)
    if mode == "asymmetric":
        return y / scale
    if mode == "pytorch_half_pixel":
        return y * 0.0 - 0.5 if out_w == 1 else (y + 0.5) / scale - 0.5
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = in_len / 2 * (1 - out_len / out_w)
        return offset + (y + 0.5) / scale - 0.5
    if mode == "tf_crop_and_resize":
        lo, hi = a.roi[axis], a.roi[rank + axis]
        x = y * 0.0 + (hi - lo) * (in_len - 1) / 2 if out_w == 1 else y * (hi - lo) * (in_len - 1) / (out_w - 1)
        return x + lo * (in_len - 1)
    raise ValueError(mode)


def cubic_weights(t, A: float):
    """Weights of taps floor(x)-1 .. floor(x)+2 for t = x - floor(x) (Keys' cubic, ONNX form)."""
    s = 1.0 - t
    return [((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A,
            ((A + 2) * t - (A + 3)) * t * t + 1,
            ((A + 2) * s - (A + 3)) * s * s + 1,
            ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A]


def nearest_index(x, mode: str, scale: float = 1.0):
    if mode == "simple":
        mode = "floor" if scale >= 1.0 else "ceil"
    f = np.floor(x)
    t = x - f
    if mode == "round_prefer_floor":
        return np.where(t > 0.5, f + 1, f)
    if mode == "round_prefer_ceil":
        return np.where(t >= 0.5, f + 1, f)
    if mode == "floor":
        return f
    return np.ceil(x)


def _taps(a: ResizeAttrs, x: np.ndarray, scale: float):
    """(source indices, weights per index) for one axis; weights are arrays over y."""
    f = np.floor(x)
    t = x - f
    if a.mode == "nearest":
        return [nearest_index(x, a.nearest_mode, scale)], [np.ones_like(x)], True
    if a.mode == "linear":
        return [f, f + 1], [1.0 - t, t], False
    return [f - 1, f, f + 1, f + 2], cubic_weights(t, a.cubic_coeff_a), False


@register_op(Op.RESIZE, Category.WINDOW, inputs=("X",))
class Resize:
    """Interpolate X to ``sizes`` (see the module doc for the coordinate rules)."""

    Attrs = ResizeAttrs

    def infer(a, x):
        r = x.rank
        if len(a.sizes) != r or len(a.scales) != r or (a.roi and len(a.roi) != 2 * r):
            raise ShapeError(f"Resize sizes/scales/roi must have one entry per axis of {x.shape}")
        if a.mode not in ("nearest", "linear", "cubic") or a.coordinate_transformation_mode not in COORDINATE_MODES \
                or a.nearest_mode not in NEAREST_MODES:
            raise ShapeError(f"Resize mode {a.mode}/{a.coordinate_transformation_mode}/{a.nearest_mode} is unknown")
        for i in resized_axes(a, x.shape):
            if not isinstance(x.shape[i], int) or not isinstance(a.sizes[i], int):
                raise ShapeError(f"Resize needs static sizes on the resized axis {i}")
        if a.coordinate_transformation_mode == "tf_crop_and_resize" and not a.roi:
            raise ShapeError("tf_crop_and_resize needs roi")
        return [TensorType(a.sizes, x.dtype)]

    def reference(a, x):
        out = x.astype(np.float64)
        r = x.ndim
        for axis in resized_axes(a, x.shape):
            n_in, n_out = x.shape[axis], a.sizes[axis]
            y = np.arange(n_out, dtype=np.float64)
            xs = source_coordinate(a, axis, y, n_in, n_out, r)
            offs, weights, _ = _taps(a, xs, a.scales[axis])
            idx = [np.asarray(o).astype(np.int64) for o in offs]
            ws = [np.asarray(w, dtype=np.float64) for w in weights]
            if a.exclude_outside and a.mode != "nearest":
                inside = [((i >= 0) & (i < n_in)).astype(np.float64) for i in idx]
                ws = [w * m for w, m in zip(ws, inside)]
                total = sum(ws)
                ws = [w / np.where(total == 0, 1.0, total) for w in ws]
            shape = [1] * r
            shape[axis] = n_out
            acc = 0.0
            for i, w in zip(idx, ws):
                acc = acc + np.take(out, np.clip(i, 0, n_in - 1), axis=axis) * w.reshape(shape)
            if a.coordinate_transformation_mode == "tf_crop_and_resize":
                ext = ((xs < 0) | (xs > n_in - 1)).reshape(shape)
                acc = np.where(ext, a.extrapolation_value, acc)
            out = acc
        if x.dtype.kind in "iu":
            info = np.iinfo(x.dtype)
            out = np.clip(np.rint(out), info.min, info.max)
        return out.astype(x.dtype)


def output_size(in_len: int, scale: float) -> int:
    """floor(in_len * scale), as ONNX computes sizes from scales."""
    return int(math.floor(in_len * scale)) if scale > 0 else 0
