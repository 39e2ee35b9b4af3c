"""Upsample (SegNet and YOLOv3 Caffe ports) and the max-pooling mask SegNet feeds it.

* ``Upsample`` with one bottom repeats each pixel ``scale_h x scale_w`` times (the YOLOv3
  ports): a nearest Resize with the asymmetric, floor source coordinate ``y // scale``.
* ``Upsample`` with two bottoms (data, mask) is SegNet's max-unpooling: an output of zeros of
  size ``upsample_h x upsample_w`` (else ``H * scale - pad_out``), and each input value
  written at the flat in-plane index its mask gives: a ScatterElements over ``H * W``. A mask
  index outside the output plane stops Caffe with an error; the compiled scatter skips it.
  Two inputs with one index (overlapping pooling windows that share a maximum) keep the later
  one, as Caffe's loop does: the scatter kernel walks the plane in order.
* ``Pooling`` with a second top (max only) gives that mask: for each window, the in-plane
  index ``h * W + w`` of its first maximum in row-major order, as a float (Caffe's mask
  top). It is a running arg-max over the window's taps, each tap a strided Slice of the
  input padded with ``-FLT_MAX`` (so padding never wins), compared with Greater and
  selected with Where: pointwise ops the fusion pass can merge into one kernel.
"""

from __future__ import annotations

import numpy as np

from ...ir import DType, Op
from .registry import caffe_layer

FLT_MAX = float(np.finfo(np.float32).max)


def max_pool_mask(ctx, x, kernel, stride, pad, out, top: int):
    """The Caffe max-pooling mask top of ``x`` (N, C, H, W) for a window geometry whose
    output size ``out`` is already decided."""
    n, c, h, w = x.shape
    ends = tuple(max(0, (out[i] - 1) * stride[i] + kernel[i] - (x.shape[2 + i] + pad[i])) for i in range(2))
    xp = ctx.op(Op.PAD, [x], pads=(0, 0, pad[0], pad[1], 0, 0, ends[0], ends[1]), mode="constant", value=-FLT_MAX)
    oh, ow = np.meshgrid(np.arange(out[0]), np.arange(out[1]), indexing="ij")
    best = arg = None
    for di in range(kernel[0]):
        for dj in range(kernel[1]):
            tap = ctx.op(Op.SLICE, [xp], starts=(0, 0, di, dj),
                         ends=(n, c, di + (out[0] - 1) * stride[0] + 1, dj + (out[1] - 1) * stride[1] + 1),
                         steps=(1, 1, stride[0], stride[1]))
            index = ctx.const(((oh * stride[0] + di - pad[0]) * w + (ow * stride[1] + dj - pad[1]))
                              .reshape(1, 1, *out), f"index_{di}_{dj}")
            if best is None:
                best, arg = tap, ctx.op(Op.ADD, [ctx.op(Op.MUL, [tap, ctx.scalar(0.0, "zero")]), index])
                continue
            better = ctx.op(Op.GREATER, [tap, best])
            best = ctx.op(Op.WHERE, [better, tap, best])
            last = di == kernel[0] - 1 and dj == kernel[1] - 1
            arg = ctx.op(Op.WHERE, [better, index, arg], top=top if last else None)
    if kernel == (1, 1):
        arg = ctx.op(Op.IDENTITY, [arg], top=top)
    return arg


def _scales(ctx, p) -> tuple[int, int]:
    sh = p.scale_h if p.has("scale_h") else p.scale
    sw = p.scale_w if p.has("scale_w") else p.scale
    if sh < 1 or sw < 1:
        raise ctx.error(f"scale {sh}x{sw} must be positive")
    return sh, sw


@caffe_layer("Upsample")
def _upsample(ctx, layer, inputs):
    p = layer.param("upsample_param")
    x = inputs[0]
    if x.type.rank != 4:
        raise ctx.error(f"Upsample needs a 4-D input, got {x.type}")
    n, c, h, w = x.shape
    if not (isinstance(h, int) and isinstance(w, int)):
        raise ctx.error(f"Upsample needs static spatial sizes, got {x.type}")
    sh, sw = _scales(ctx, p)
    if len(inputs) == 1:
        if p.has("upsample_h") or p.has("upsample_w") or p.pad_out_h or p.pad_out_w:
            raise ctx.error("upsample_h/upsample_w and pad_out_* need the mask bottom (SegNet unpooling)",
                            hint="give the pooling mask as the second bottom, or only a scale")
        if (sh, sw) == (1, 1):
            return [ctx.op(Op.IDENTITY, [x], top=0)]
        return [ctx.op(Op.RESIZE, [x], top=0, sizes=(n, c, h * sh, w * sw), scales=(1.0, 1.0, float(sh), float(sw)),
                       mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")]
    if len(inputs) != 2:
        raise ctx.error(f"Upsample takes one bottom, or two (data and the pooling mask), got {len(inputs)}")
    mask = inputs[1]
    if tuple(mask.shape) != tuple(x.shape):
        raise ctx.error(f"the mask {mask.type} must have the shape of the data {x.type}")
    if p.has("upsample_h") != p.has("upsample_w"):
        raise ctx.error("give both upsample_h and upsample_w")
    if p.has("upsample_h"):
        oh, ow = p.upsample_h, p.upsample_w
    else:
        oh, ow = h * sh - int(p.pad_out_h), w * sw - int(p.pad_out_w)
    if oh < 1 or ow < 1:
        raise ctx.error(f"the output size {oh}x{ow} must be positive")
    flat = ctx.op(Op.RESHAPE, [x], shape=(n, c, h * w))
    index = ctx.op(Op.CAST, [ctx.op(Op.RESHAPE, [mask], shape=(n, c, h * w))], to=DType.INT64)
    zeros = ctx.op(Op.CONSTANT_OF_SHAPE, [], shape=(n, c, oh * ow), value=0.0, dtype=DType.FLOAT32)
    out = ctx.op(Op.SCATTER_ELEMENTS, [zeros, index, flat], axis=2)
    return [ctx.op(Op.RESHAPE, [out], top=0, shape=(n, c, oh, ow))]
