"""Importers for Resize (opsets 10, 11, 13, 18, 19) and Upsample (opsets 7, 9).

Every variant becomes one canonical ``Resize`` node: full-rank output sizes and scales (the
``axes`` of opset 18 expanded, ``keep_aspect_ratio_policy`` applied), the roi of
``tf_crop_and_resize`` as floats. Opset 10 and Upsample use the asymmetric transform and the
"simple" nearest rounding (floor when enlarging, ceil when shrinking), as onnxruntime does.
"""

from __future__ import annotations

import math

from ...ir import Op
from ...ops.resize import COORDINATE_MODES, NEAREST_MODES, output_size
from ...ops.shapes import normalize_axis
from .context import UnsupportedHere
from .registry import onnx_op


def _optional(v):
    return None if v is None or (v.type.is_static and v.type.numel == 0) else v


def build_resize(ctx, x, *, scales=None, sizes=None, roi=None, axes=None, mode="nearest",
                 coord="half_pixel", nearest="round_prefer_floor", cubic_a=-0.75, exclude_outside=0,
                 extrapolation=0.0, policy="stretch", antialias=0):
    rank = x.type.rank
    axes = list(range(rank)) if axes is None else [normalize_axis(int(a), rank) for a in axes]
    if mode not in ("nearest", "linear", "cubic"):
        raise UnsupportedHere(f"mode {mode!r} is not supported")
    if coord not in COORDINATE_MODES:
        raise UnsupportedHere(f"coordinate_transformation_mode {coord!r} is not supported")
    if nearest not in NEAREST_MODES:
        raise UnsupportedHere(f"nearest_mode {nearest!r} is not supported")
    full_scales = [1.0] * rank
    full_sizes = list(x.shape)
    if sizes is not None:
        if len(sizes) != len(axes):
            raise UnsupportedHere(f"sizes {sizes} do not match axes {axes}")
        for a, n in zip(axes, sizes):
            if not isinstance(x.shape[a], int):
                raise UnsupportedHere(f"resizing the symbolic axis {a}")
            full_scales[a] = n / x.shape[a]
            full_sizes[a] = int(n)
        if policy != "stretch":
            if policy not in ("not_larger", "not_smaller"):
                raise UnsupportedHere(f"keep_aspect_ratio_policy {policy!r} is not supported")
            pick = min if policy == "not_larger" else max
            s = pick(full_scales[a] for a in axes)
            for a in axes:
                full_scales[a] = s
                full_sizes[a] = int(s * x.shape[a] + 0.5)
    elif scales is not None:
        if len(scales) != len(axes):
            raise UnsupportedHere(f"scales {scales} do not match axes {axes}")
        for a, s in zip(axes, scales):
            if s <= 0:
                raise UnsupportedHere(f"scale {s} must be positive")
            if s != 1.0 and not isinstance(x.shape[a], int):
                raise UnsupportedHere(f"resizing the symbolic axis {a}")
            full_scales[a] = float(s)
            if isinstance(x.shape[a], int):
                full_sizes[a] = output_size(x.shape[a], float(s))
    else:
        raise UnsupportedHere("Resize needs scales or sizes")
    if any(isinstance(n, int) and n < 1 for n in full_sizes):
        raise UnsupportedHere(f"output sizes {full_sizes} would be empty")
    full_roi = ()
    if coord == "tf_crop_and_resize":
        if roi is None:
            raise UnsupportedHere("tf_crop_and_resize needs roi")
        r = [0.0] * rank + [1.0] * rank
        if len(roi) != 2 * len(axes):
            raise UnsupportedHere(f"roi {roi} does not match axes {axes}")
        for k, a in enumerate(axes):
            r[a], r[rank + a] = float(roi[k]), float(roi[len(axes) + k])
        full_roi = tuple(r)
    if not x.dtype.is_float and mode != "nearest":
        pass   # integer linear/cubic round to nearest (as onnx's reference saturate_cast)
    return ctx.op(Op.RESIZE, [x], sizes=tuple(full_sizes), scales=tuple(full_scales), roi=full_roi, mode=mode,
                  coordinate_transformation_mode=coord, nearest_mode=nearest, cubic_coeff_a=float(cubic_a),
                  exclude_outside=int(exclude_outside), extrapolation_value=float(extrapolation),
                  antialias=int(antialias) if mode != "nearest" else 0)


@onnx_op("Resize")
def _resize(ctx, node, inputs, attrs):
    x = inputs[0]
    mode = attrs.get("mode", "nearest")
    if ctx.opset < 11:
        scales = ctx.floats(inputs[1], "Resize's scales")
        return [build_resize(ctx, x, scales=scales, mode=mode, coord="asymmetric", nearest="simple")]
    roi = _optional(inputs[1] if len(inputs) > 1 else None)
    scales = _optional(inputs[2] if len(inputs) > 2 else None)
    sizes = _optional(inputs[3] if len(inputs) > 3 else None)
    coord = attrs.get("coordinate_transformation_mode", "half_pixel")
    return [build_resize(
        ctx, x,
        scales=ctx.floats(scales, "Resize's scales") if scales is not None else None,
        sizes=[int(v) for v in ctx.ints(sizes, "Resize's sizes")] if sizes is not None else None,
        roi=ctx.floats(roi, "Resize's roi") if roi is not None and coord == "tf_crop_and_resize" else None,
        axes=attrs.get("axes"), mode=mode, coord=coord, nearest=attrs.get("nearest_mode", "round_prefer_floor"),
        cubic_a=attrs.get("cubic_coeff_a", -0.75), exclude_outside=attrs.get("exclude_outside", 0),
        extrapolation=attrs.get("extrapolation_value", 0.0), policy=attrs.get("keep_aspect_ratio_policy", "stretch"),
        antialias=attrs.get("antialias", 0))]


@onnx_op("Upsample")
def _upsample(ctx, node, inputs, attrs):
    x = inputs[0]
    mode = attrs.get("mode", "nearest")
    mode = {"bilinear": "linear", "trilinear": "linear"}.get(mode, mode)
    scales = list(attrs["scales"]) if ctx.opset < 9 and "scales" in attrs else ctx.floats(inputs[1], "Upsample's scales")
    if any(math.isnan(s) for s in scales):
        raise UnsupportedHere("scales must be numbers")
    return [build_resize(ctx, x, scales=scales, mode=mode, coord="asymmetric", nearest="simple")]


@onnx_op("GridSample")
def _grid_sample(ctx, node, inputs, attrs):
    x, grid = inputs[0], inputs[1]
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(attrs.get("mode", "linear"), attrs.get("mode", "linear"))
    if ctx.opset < 20 and "mode" not in attrs:
        mode = "linear"
    padding = attrs.get("padding_mode", "zeros")
    if mode not in ("linear", "nearest", "cubic") or padding not in ("zeros", "border", "reflection"):
        raise UnsupportedHere(f"mode {mode!r} / padding_mode {padding!r} is not supported")
    if not x.dtype.is_float:
        raise UnsupportedHere(f"GridSample of {x.dtype} is not supported")
    if not all(isinstance(d, int) for d in x.shape[2:]):
        raise UnsupportedHere("GridSample needs static input spatial sizes")
    if grid.dtype != x.dtype:
        grid = ctx.op(Op.CAST, [grid], to=x.dtype)
    return [ctx.op(Op.GRID_SAMPLE, [x, grid], mode=mode, padding_mode=padding,
                   align_corners=int(attrs.get("align_corners", 0)))]
