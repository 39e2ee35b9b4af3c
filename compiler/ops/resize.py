"""Resize: nearest, linear and cubic interpolation over any axes (Upsample imports as this).

Attributes are canonical: ``sizes`` is the output shape, ``scales`` the per-axis factor the
coordinate transform divides by (output/input when sizes were given), ``roi`` the crop box of
``tf_crop_and_resize`` (starts..., ends..., normalized), all per axis. Each resized axis maps
an output coordinate ``y`` to a source coordinate ``x`` (``source_coordinate``); nearest picks
one tap, linear two (floor(x), floor(x)+1) and cubic four (floor(x)-1 .. floor(x)+2); taps
outside the input repeat the edge, or are dropped and the weights renormalized with
``exclude_outside``. With ``antialias`` a shrinking linear/cubic axis widens its filter by
1/scale (more taps, weights normalized to sum 1), as ONNX opset 18 specifies. The
interpolation is separable, so an N-axis resize is the product of per-axis weights.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..ir import Op, TensorType
from ..ir.dims import Dim
from .registry import Category, register_op
from cortado.runtime.errors import ShapeError

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
    antialias: int = 0                       # linear/cubic: widen the filter by 1/scale when shrinking


def antialias_offsets(a: ResizeAttrs, scale: float) -> tuple[list[int], float]:
    """Tap offsets from floor(x) and the filter scale of an antialiased linear/cubic axis."""
    s = min(scale, 1.0)
    start = math.floor((-1.0 if a.mode == "linear" else -2.0) / s) + 1
    return list(range(start, 2 - start)), s


def filter_weight(mode: str, u, A: float):
    """The linear (triangle) or cubic (Keys) filter at distance u."""
    u = np.abs(u)
    if mode == "linear":
        return np.clip(1.0 - u, 0.0, 1.0)
    return np.where(u <= 1, ((A + 2) * u - (A + 3)) * u * u + 1,
                    np.where(u < 2, ((A * u - 5 * A) * u + 8 * A) * u - 4 * A, 0.0))


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
    if a.antialias and scale < 1.0:
        offsets, s = antialias_offsets(a, scale)
        ws = [filter_weight(a.mode, (k - t) * s, a.cubic_coeff_a) for k in offsets]
        total = sum(ws)
        return [f + k for k in offsets], [w / total for w in ws], False
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


@dataclasses.dataclass(frozen=True)
class GridSampleAttrs:
    mode: str = "linear"             # linear | nearest | cubic
    padding_mode: str = "zeros"      # zeros | border | reflection
    align_corners: int = 0


def grid_source(g, length: int, align_corners: bool):
    """Normalized grid coordinate in [-1, 1] -> input coordinate along an axis of ``length``."""
    if align_corners:
        return (g + 1) / 2.0 * (length - 1)
    return ((g + 1) * length - 1) / 2.0


def reflect(x, lo: float, hi: float):
    """Fold x into [lo, hi] by reflecting at the borders (as often as needed)."""
    rng = hi - lo
    if rng <= 0:
        return np.full_like(x, lo)
    below = x < lo
    dx = np.where(below, lo - x, x - hi)
    n = np.floor(dx / rng)
    r = dx - n * rng
    even = (n % 2) == 0
    folded = np.where(below, np.where(even, lo + r, hi - r), np.where(even, hi - r, lo + r))
    return np.where((x < lo) | (x > hi), folded, x)


@register_op(Op.GRID_SAMPLE, Category.WINDOW, inputs=("X", "grid"))
class GridSample:
    """Sample X at the points of ``grid`` (normalized coordinates, last axis x, y[, z]):
    nearest (round half to even), linear (2 taps per axis) or cubic (4 taps, a = -0.75);
    points outside are zeros, clamped to the border, or reflected back in."""

    Attrs = GridSampleAttrs

    def infer(a, x, grid):
        sp = x.rank - 2
        if sp < 1 or grid.rank != x.rank or grid.shape[-1] != sp or grid.shape[0] != x.shape[0]:
            raise ShapeError(f"GridSample needs X (N, C, spatial...) and grid (N, out..., {sp}), got {x} and {grid}")
        if a.mode not in ("linear", "nearest", "cubic") or a.padding_mode not in ("zeros", "border", "reflection"):
            raise ShapeError(f"GridSample mode {a.mode} / padding {a.padding_mode} is unknown")
        if not x.dtype.is_float or grid.dtype != x.dtype:
            raise ShapeError(f"GridSample needs float X and grid of one type, got {x.dtype} and {grid.dtype}")
        if not all(isinstance(d, int) for d in x.shape[2:]):
            raise ShapeError("GridSample needs static input spatial sizes")
        return [TensorType((x.shape[0], x.shape[1]) + tuple(grid.shape[1:-1]), x.dtype)]

    def reference(a, x, grid):
        sp = x.ndim - 2
        dims = x.shape[2:]
        n, c = x.shape[:2]
        out_sp = grid.shape[1:-1]
        ac = bool(a.align_corners)
        coords = []
        for i in range(sp):
            g = grid[..., sp - 1 - i].astype(np.float64)          # (N, out...)
            v = grid_source(g, dims[i], ac)
            if a.mode == "nearest":
                v = np.round(v)
            lo, hi = (0.0, dims[i] - 1.0) if ac else (-0.5, dims[i] - 0.5)
            if a.padding_mode == "border":
                v = np.clip(v, 0, dims[i] - 1)
            elif a.padding_mode == "reflection":
                v = reflect(v, lo, hi)
            coords.append((v, lo, hi))
        taps = []
        for i, (v, lo, hi) in enumerate(coords):
            if a.mode == "nearest":
                taps.append([(np.trunc(v).astype(np.int64), np.ones_like(v))])
                continue
            f = np.floor(v)
            t = v - f
            if a.mode == "linear":
                taps.append([(f.astype(np.int64), 1 - t), (f.astype(np.int64) + 1, t)])
            else:
                ws = cubic_weights(t, -0.75)
                taps.append([(f.astype(np.int64) + k - 1, ws[k]) for k in range(4)])
        x64 = x.astype(np.float64)
        out = np.zeros((n, c) + tuple(out_sp), dtype=np.float64)
        bidx = np.arange(n).reshape((n,) + (1,) * len(out_sp))
        import itertools

        for combo in itertools.product(*taps):
            weight = np.ones((n,) + tuple(out_sp))
            idx = []
            valid = np.ones((n,) + tuple(out_sp), dtype=bool)
            for i, (j, w) in enumerate(combo):
                weight = weight * w
                d = dims[i]
                if a.padding_mode == "zeros":
                    valid &= (j >= 0) & (j < d)
                    j = np.clip(j, 0, d - 1)
                elif a.padding_mode == "border":
                    j = np.clip(j, 0, d - 1)
                else:
                    lo, hi = coords[i][1], coords[i][2]
                    j = np.trunc(reflect(j.astype(np.float64), lo, hi)).astype(np.int64)
                    j = np.clip(j, 0, d - 1)
                idx.append(j)
            vals = _gather(x64, bidx, idx)
            out += np.where(valid, weight, 0.0)[:, None] * vals
        return out.astype(x.dtype)


def _gather(x, bidx, idx):
    """x[n, :, idx...] for per-(n, out...) spatial indices -> (N, C, out...)."""
    n, c = x.shape[:2]
    moved = np.moveaxis(x, 1, -1)                       # N, spatial..., C
    picked = moved[(bidx,) + tuple(idx)]                # N, out..., C
    return np.moveaxis(picked, -1, 1)
