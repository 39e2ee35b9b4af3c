"""The SSD family (weiliu89/caffe): PriorBox, Normalize — and DetectionOutput, refused.

* PriorBox depends only on shapes: for each cell ``(h, w)`` of bottom 0 (row-major), each
  ``min_size`` gives a square box of that side, then (with ``max_size``) one of side
  ``sqrt(min * max)``, then one box per extra aspect ratio ``r`` (``min * sqrt(r)`` wide,
  ``min / sqrt(r)`` high; ratios start at 1, duplicates within 1e-6 are dropped, ``flip``
  adds ``1/r``), centred at ``((w + offset) * step_w, (h + offset) * step_h)``, as
  ``(xmin, ymin, xmax, ymax)`` divided by the image size (bottom 1's, unless
  ``img_size``/``img_h``/``img_w``), clipped to [0, 1] with ``clip``. The steps default to
  image size / feature size. Channel 1 holds the variances (one value for all four
  coordinates, or four). The top is ``(1, 2, H * W * priors * 4)`` whatever the batch, so it
  is computed here as a constant from the static spatial sizes (a symbolic batch is fine).
  SSD's default for ``clip`` is false (OpenCV's schema says true; Cortado follows SSD).
* Normalize: ``x / sqrt(sum(x^2) + eps) * scale``, the sum over channels at each position, or
  over C, H and W per sample with ``across_spatial``; the learned scale is one value
  (``channel_shared``) or one per channel.
* DetectionOutput runs NMS, so how many rows it returns depends on the data; the runtime
  returns tensors of sizes known before the run, so the layer is refused with that reason.
"""

from __future__ import annotations

import numpy as np

from ...ir import Op
from .registry import caffe_layer


def _pair(ctx, p, both: str, h: str, w: str, what: str) -> tuple[float, float]:
    if p.has(h) or p.has(w):
        if p.has(both):
            raise ctx.error(f"give {what} as {both} or as {h} and {w}, not both")
        return getattr(p, h), getattr(p, w)
    return (getattr(p, both),) * 2 if p.has(both) else (0, 0)


def aspect_ratios(values, flip: bool) -> list[float]:
    out = [1.0]
    for r in values:
        if any(abs(r - o) < 1e-6 for o in out):
            continue
        out.append(float(r))
        if flip:
            out.append(1.0 / float(r))
    return out


def prior_boxes(layer_hw, img_hw, step_hw, offset, min_sizes, max_sizes, ratios, clip, variance) -> np.ndarray:
    """The PriorBox top, (1, 2, H * W * priors * 4), in Caffe's float arithmetic."""
    f32 = np.float32
    lh, lw = layer_hw
    ih, iw = img_hw
    sizes = []   # (width, height) per prior at one cell, in order
    for i, m in enumerate(min_sizes):
        m = f32(m)
        sizes.append((m, m))
        if max_sizes:
            side = np.sqrt(m * f32(max_sizes[i]), dtype=f32)
            sizes.append((side, side))
        for r in ratios:
            if abs(r - 1.0) < 1e-6:
                continue
            root = np.sqrt(f32(r), dtype=f32)
            sizes.append((m * root, m / root))
    half = np.array(sizes, dtype=np.float64) / 2.0                     # (P, 2): half width, half height
    cy = ((np.arange(lh, dtype=f32) + f32(offset)) * f32(step_hw[0])).astype(np.float64)
    cx = ((np.arange(lw, dtype=f32) + f32(offset)) * f32(step_hw[1])).astype(np.float64)
    cy, cx = np.meshgrid(cy, cx, indexing="ij")
    cx, cy = cx[..., None], cy[..., None]
    boxes = np.stack([(cx - half[:, 0]) / iw, (cy - half[:, 1]) / ih, (cx + half[:, 0]) / iw,
                      (cy + half[:, 1]) / ih], axis=-1).astype(f32).reshape(-1)
    if clip:
        boxes = np.clip(boxes, 0.0, 1.0)
    var = np.resize(np.asarray(variance, dtype=f32), boxes.size)
    return np.stack([boxes, var]).reshape(1, 2, -1)


@caffe_layer("PriorBox")
def _prior_box(ctx, layer, inputs):
    p = layer.param("prior_box_param")
    if len(inputs) != 2:
        raise ctx.error(f"PriorBox takes two bottoms (the feature map and the image), got {len(inputs)}")
    feat, img = inputs
    if feat.type.rank != 4 or img.type.rank != 4:
        raise ctx.error(f"PriorBox needs 4-D bottoms, got {feat.type} and {img.type}")
    min_sizes, max_sizes = list(p.min_size), list(p.max_size)
    if not min_sizes or any(m <= 0 for m in min_sizes):
        raise ctx.error("prior_box_param needs min_size, and every min_size must be positive")
    if max_sizes and (len(max_sizes) != len(min_sizes) or any(M <= m for m, M in zip(min_sizes, max_sizes))):
        raise ctx.error(f"max_size {max_sizes} needs one value per min_size {min_sizes}, each larger than it")
    variance = list(p.variance) or [0.1]
    if len(variance) not in (1, 4) or any(v <= 0 for v in variance):
        raise ctx.error(f"variance {variance} must be one or four positive values")
    img_hw = _pair(ctx, p, "img_size", "img_h", "img_w", "the image size")
    step_hw = _pair(ctx, p, "step", "step_h", "step_w", "the step")
    layer_hw = tuple(feat.shape[2:])
    if not all(isinstance(d, int) for d in layer_hw):
        raise ctx.error(f"PriorBox needs the feature map's static height and width, got {feat.type}")
    if not (img_hw[0] and img_hw[1]):
        img_hw = tuple(img.shape[2:])
        if not all(isinstance(d, int) for d in img_hw):
            raise ctx.error(f"PriorBox needs the image's static height and width (or img_size), got {img.type}")
    if not (step_hw[0] and step_hw[1]):
        step_hw = (np.float32(img_hw[0]) / np.float32(layer_hw[0]), np.float32(img_hw[1]) / np.float32(layer_hw[1]))
    boxes = prior_boxes(layer_hw, img_hw, step_hw, p.offset, min_sizes, max_sizes,
                        aspect_ratios(p.aspect_ratio, p.flip), p.clip, variance)
    return [ctx.op(Op.IDENTITY, [ctx.const(boxes, "priors")], top=0)]


@caffe_layer("Normalize")
def _normalize(ctx, layer, inputs):
    p = layer.param("norm_param")
    x = inputs[0]
    if x.type.rank != 4:
        raise ctx.error(f"Normalize needs a 4-D input, got {x.type}")
    c = x.shape[1]
    if not isinstance(c, int):
        raise ctx.error(f"Normalize needs a static channel count, got {x.type}")
    axes = (1, 2, 3) if p.across_spatial else (1,)
    summed = ctx.op(Op.REDUCE_SUM_SQUARE, [x], axes=axes, keepdims=1)
    norm = ctx.op(Op.SQRT, [ctx.op(Op.ADD, [summed, ctx.scalar(p.eps, "eps")])])
    y = ctx.op(Op.DIV, [x, norm])
    if p.channel_shared:
        scale = ctx.const(ctx.blob(0, (), "scale", what="scale").reshape(()), "scale")
    else:
        scale = ctx.const(ctx.blob(0, (c,), "scale", what="scale").reshape(c, 1, 1), "scale")
    return [ctx.op(Op.MUL, [y, scale], top=0)]


@caffe_layer("DetectionOutput", kind="refused")
def _detection_output(ctx, layer, inputs):
    raise ctx.unsupported("DetectionOutput keeps the boxes non-maximum suppression selects, so its output size "
                          "depends on the data (data-dependent output size), which Cortado's runtime cannot "
                          "return yet; compile the net without it (its bottoms, e.g. mbox_loc, mbox_conf_flatten "
                          "and mbox_priorbox, become the outputs) and decode the boxes on the host")
