"""The SSD family (weiliu89/caffe): PriorBox, Normalize and DetectionOutput.

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
* DetectionOutput: bottoms loc ``(N, P * 4)`` (``P * C * 4`` without ``share_location``), conf
  ``(N, P * C)``, priors ``(1, 2, P * 4)``. Caffe's DecodeBBox becomes IR ops on the priors
  (CORNER: ``prior + variance * loc``; CENTER_SIZE: centre ``variance * loc * prior size +
  prior centre``, size ``exp(variance * loc) * prior size``; the variances left out with
  ``variance_encoded_in_target``; OpenCV's ``clip`` to [0, 1]), so the decoding fuses with the
  heads' permutes and concats. What depends on the data — per image and class, the candidates
  above ``confidence_threshold``, the ``top_k`` best, greedy NMS at ``nms_threshold`` with
  Caffe's overlap; then the ``keep_top_k`` best of the image — is one host step
  (``runtime.hostops.detection_output``) whose row count is a fresh symbol, so one compile
  serves every batch and every number of detections, none included. The top is ``(1, 1, K,
  7)``; each image's rows best first (OpenCV's order; SSD's Caffe groups them by class). What
  SSD's code or OpenCV accepts but Cortado does not (adaptive NMS ``eta``, CORNER_SIZE, pixel
  boxes, ``top_k: 0`` on which the two disagree) is an error naming the field.
"""

from __future__ import annotations

import numpy as np

from ...ir import Op, TensorType
from ...ops.dynamic import fresh_symbol
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


FLT_MAX = 3.4028234663852886e38


def _detection_params(ctx, p) -> dict:
    """The NMS settings, checked. What SSD's Caffe would stop on is an error; what it runs but
    Cortado does not is refused as unsupported (listed with the net's other unsupported layers)."""
    nms = p.nms_param
    if not p.has("num_classes") or p.num_classes < 1:
        raise ctx.error("detection_output_param needs num_classes (at least 1)")
    if nms.eta != 1:
        raise ctx.unsupported(f"detection_output_param.nms_param.eta is {nms.eta}: adaptive NMS (eta other than 1) "
                              "is not supported; remove nms_param.eta (or set it to 1)")
    if p.code_type not in ("CORNER", "CENTER_SIZE"):
        raise ctx.unsupported(f"detection_output_param.code_type {p.code_type} is not supported (CORNER and "
                              "CENTER_SIZE are)")
    if not p.normalized_bbox:
        raise ctx.unsupported("detection_output_param.normalized_bbox: false (boxes in pixels) is not supported; "
                              "only boxes normalized to [0, 1] are")
    top_k = nms.top_k if nms.has("top_k") else -1
    if top_k == 0:
        raise ctx.unsupported("detection_output_param.nms_param.top_k is 0, which SSD's Caffe reads as no box and "
                              "OpenCV as every box; give a positive count, or -1 for every box")
    if nms.nms_threshold < 0:
        raise ctx.error(f"detection_output_param.nms_param.nms_threshold is {nms.nms_threshold}; it must be "
                        "at least 0")
    if top_k < -1:
        raise ctx.error(f"detection_output_param.nms_param.top_k is {top_k}; give a positive count or -1 "
                        "(every box)")
    if p.share_location and p.background_label_id == -1:
        raise ctx.error("detection_output_param.background_label_id -1 with share_location: SSD's Caffe "
                        "(and OpenCV) decode no box then and stop", hint="give the background class, or "
                        "share_location: false to keep every class")
    if p.keep_top_k < -1:
        raise ctx.error(f"detection_output_param.keep_top_k is {p.keep_top_k}; give a count or -1 (all rows)")
    if p.has("save_output_param") or p.visualize:
        ctx.note("DetectionOutput's save_output_param and visualize are ignored (nothing is written or shown)")
    return dict(background_label_id=int(p.background_label_id), nms_threshold=float(nms.nms_threshold),
                top_k=int(top_k), keep_top_k=int(p.keep_top_k),
                confidence_threshold=float(p.confidence_threshold) if p.has("confidence_threshold") else -FLT_MAX)


def _cols(ctx, x, lo: int, hi: int):
    """``x[..., lo:hi]``."""
    shape = tuple(x.shape)
    return ctx.op(Op.SLICE, [x], starts=(0,) * (len(shape) - 1) + (lo,), ends=shape[:-1] + (hi,),
                  steps=(1,) * len(shape))


def _decode(ctx, p, loc, prior_box, variance):
    """Caffe's DecodeBBox as IR ops (so they fuse): ``loc`` (N, P, [C,] 4) against the priors
    (P, [1,] 4), scaled by the variances unless they are encoded in the target."""
    t = loc if variance is None else ctx.op(Op.MUL, [loc, variance])
    if p.code_type == "CORNER":
        boxes = ctx.op(Op.ADD, [prior_box, t])
    else:
        pmin, pmax = _cols(ctx, prior_box, 0, 2), _cols(ctx, prior_box, 2, 4)
        size = ctx.op(Op.SUB, [pmax, pmin])
        half = ctx.scalar(0.5, "half")
        center = ctx.op(Op.ADD, [pmin, ctx.op(Op.MUL, [size, half])])
        center = ctx.op(Op.ADD, [ctx.op(Op.MUL, [_cols(ctx, t, 0, 2), size]), center])
        extent = ctx.op(Op.MUL, [ctx.op(Op.MUL, [ctx.op(Op.EXP, [_cols(ctx, t, 2, 4)]), size]), half])
        boxes = ctx.op(Op.CONCAT, [ctx.op(Op.SUB, [center, extent]), ctx.op(Op.ADD, [center, extent])],
                       axis=loc.type.rank - 1)
    if p.clip:
        boxes = ctx.op(Op.CLIP, [boxes, ctx.scalar(0.0, "zero"), ctx.scalar(1.0, "one")])
    return boxes


@caffe_layer("DetectionOutput")
def _detection_output(ctx, layer, inputs):
    p = layer.param("detection_output_param")
    if len(inputs) != 3:
        raise ctx.error(f"DetectionOutput takes three bottoms (loc, conf, priors), got {len(inputs)}")
    attrs = _detection_params(ctx, p)
    loc, conf, prior = inputs
    c = int(p.num_classes)
    n = loc.shape[0]
    if prior.type.rank != 3 or prior.shape[0] != 1 or not isinstance(prior.shape[2], int) or prior.shape[2] % 4:
        raise ctx.error(f"DetectionOutput's priors (bottom 2) must be (1, 2, P * 4), as PriorBox makes them, "
                        f"got {prior.type}")
    priors = prior.shape[2] // 4
    encoded = bool(p.variance_encoded_in_target)
    if prior.shape[1] < (1 if encoded else 2):
        raise ctx.error(f"DetectionOutput's priors {prior.type} carry no variances (channel 1); give "
                        "variance_encoded_in_target: true if the net's loc already includes them")
    per_loc = 1 if p.share_location else c
    for what, v, want in (("loc (bottom 0)", loc, priors * per_loc * 4), ("conf (bottom 1)", conf, priors * c)):
        got = TensorType(tuple(v.shape[1:]), v.dtype).numel if v.type.rank > 1 else None
        if v.type.rank < 2 or v.shape[0] != n or got != want:
            raise ctx.error(f"DetectionOutput's {what} is {v.type}; with {priors} priors, {c} classes and "
                            f"share_location {str(bool(p.share_location)).lower()} each image needs {want} values "
                            f"(and the batch of bottom 0, {n})")
    grid = ctx.op(Op.RESHAPE, [prior], shape=(prior.shape[1], priors, 4))
    box_shape = (priors, 4) if p.share_location else (priors, 1, 4)
    prior_box = ctx.op(Op.RESHAPE, [ctx.op(Op.SLICE, [grid], starts=(0, 0, 0), ends=(1, priors, 4), steps=(1, 1, 1))],
                       shape=box_shape)
    variance = None
    if not encoded:
        variance = ctx.op(Op.RESHAPE, [ctx.op(Op.SLICE, [grid], starts=(1, 0, 0), ends=(2, priors, 4),
                                               steps=(1, 1, 1))], shape=box_shape)
    loc = ctx.op(Op.RESHAPE, [loc], shape=(n, priors, 4) if p.share_location else (n, priors, c, 4))
    boxes = _decode(ctx, p, loc, prior_box, variance)
    scores = ctx.op(Op.RESHAPE, [conf], shape=(n, priors, c))
    rows = ctx.op(Op.DETECTION_OUTPUT, [boxes, scores], count=fresh_symbol(ctx.graph, "detections"), **attrs)
    return [ctx.op(Op.RESHAPE, [rows], top=0, shape=(1, 1, rows.shape[0], 7))]
