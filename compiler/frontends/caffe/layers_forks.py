"""Layers the common Caffe forks add, each built from IR ops so fusion sees through them.

* ReLU6 (MobileNet ports): ``min(max(x, 0), 6)``, a Clip.
* DepthwiseConvolution / ConvolutionDepthwise (MobileNet forks): a Convolution whose group is
  the input channel count whatever ``group`` says (the forks ignore it); weights
  ``(num_output, 1, kh, kw)``, ``num_output`` a multiple of the channels.
* ShuffleChannel (ShuffleNet): ``(N, g, C/g, H, W) -> (N, C/g, g, H, W)``, two Reshapes and
  a Transpose.
* Axpy (SENet-MobileNet ports): bottoms ``a (N,C,1,1), x, y`` give ``a * x + y``.
* Interp (PSPNet/DeepLab): crop by the non-positive ``pad_beg``/``pad_end``, then bilinear
  resampling with aligned corners to ``height``/``width``, or the size ``shrink_factor``
  then ``zoom_factor`` give: ``(h - 1) / shrink + 1`` and ``h + (h - 1) * (zoom - 1)``.

Reorg and Region (the YOLOv2 ports) are in ``layers_yolo``; Upsample in ``layers_upsample``.
"""

from __future__ import annotations

from ...ir import Op
from .layers_nn import conv_geometry
from .registry import caffe_layer


@caffe_layer("ReLU6")
def _relu6(ctx, layer, inputs):
    return [ctx.op(Op.CLIP, [inputs[0], ctx.scalar(0.0, "zero"), ctx.scalar(6.0, "six")], top=0)]


@caffe_layer("DepthwiseConvolution", "ConvolutionDepthwise")
def _depthwise(ctx, layer, inputs):
    p = layer.param("convolution_param")
    x = inputs[0]
    cin = x.shape[1]
    if not isinstance(cin, int):
        raise ctx.error(f"needs a static channel count, got {x.type}")
    if p.has("group") and p.group not in (1, cin):
        raise ctx.error(f"group {p.group} must be the input channel count ({cin}) for a depthwise convolution",
                        hint="leave group out, or use a Convolution layer for grouped convolution")
    geo = conv_geometry(ctx, p, x, group=cin)
    w = ctx.const(ctx.blob(0, (p.num_output, 1, *geo["kernel_shape"]), "weight", what="weights"), "weight")
    b = ctx.const(ctx.blob(1, (p.num_output,), "bias", what="bias"), "bias") if p.bias_term else None
    outs = []
    for i, v in enumerate(inputs):
        if v.type != x.type:
            raise ctx.error("all bottoms of a convolution must have the same shape")
        outs.append(ctx.op(Op.CONV, [v, w, b], top=i, **geo))
    return outs


@caffe_layer("ShuffleChannel")
def _shuffle_channel(ctx, layer, inputs):
    x = inputs[0]
    g = layer.param("shuffle_channel_param").group
    if x.type.rank < 2:
        raise ctx.error(f"needs rank >= 2, got {x.type}")
    c = x.shape[1]
    if g < 1 or not isinstance(c, int) or c % g:
        raise ctx.error(f"group {g} must divide the channels ({c})")
    if g == 1:
        return [x]
    n, rest = x.shape[0], tuple(x.shape[2:])
    split = ctx.op(Op.RESHAPE, [x], shape=(n, g, c // g) + rest)
    perm = (0, 2, 1) + tuple(range(3, x.type.rank + 1))
    swapped = ctx.op(Op.TRANSPOSE, [split], perm=perm)
    return [ctx.op(Op.RESHAPE, [swapped], top=0, shape=tuple(x.shape))]


@caffe_layer("Axpy")
def _axpy(ctx, layer, inputs):
    if len(inputs) != 3:
        raise ctx.error(f"Axpy takes three bottoms (a, x, y), got {len(inputs)}")
    a, x, y = inputs
    if tuple(x.shape) != tuple(y.shape):
        raise ctx.error(f"x {x.type} and y {y.type} must have one shape")
    if a.type.rank != x.type.rank or tuple(a.shape[:2]) != tuple(x.shape[:2]) or any(d != 1 for d in a.shape[2:]):
        raise ctx.error(f"a {a.type} must be (N, C, 1, 1) for x {x.type}")
    return [ctx.op(Op.ADD, [ctx.op(Op.MUL, [a, x]), y], top=0)]


def interp_size(ctx, size: int, p) -> int:
    """Interp's output length along one axis (deeplab's ``InterpLayer::Reshape``)."""
    eff = size + p.pad_beg + p.pad_end
    if eff < 1:
        raise ctx.error(f"pad_beg {p.pad_beg} and pad_end {p.pad_end} crop away the whole input ({size})")
    zoom, shrink = p.has("zoom_factor"), p.has("shrink_factor")
    if zoom or shrink:
        if (zoom and p.zoom_factor < 1) or (shrink and p.shrink_factor < 1):
            raise ctx.error("zoom_factor and shrink_factor must be positive")
        out = (eff - 1) // p.shrink_factor + 1 if shrink else eff
        return out + (out - 1) * (p.zoom_factor - 1) if zoom else out
    raise AssertionError("caller checks the size is specified")


@caffe_layer("Interp")
def _interp(ctx, layer, inputs):
    p = layer.param("interp_param")
    x = inputs[0]
    if x.type.rank != 4:
        raise ctx.error(f"Interp needs a 4-D input, got {x.type}")
    if p.pad_beg > 0 or p.pad_end > 0:
        raise ctx.error(f"pad_beg {p.pad_beg} / pad_end {p.pad_end} must be <= 0 (Interp only crops)")
    h, w = x.shape[2:]
    if not (isinstance(h, int) and isinstance(w, int)):
        raise ctx.error(f"Interp needs static spatial sizes, got {x.type}")
    if p.has("zoom_factor") or p.has("shrink_factor"):
        out = (interp_size(ctx, h, p), interp_size(ctx, w, p))
    elif p.has("height") and p.has("width"):
        if p.height < 1 or p.width < 1:
            raise ctx.error(f"height {p.height} and width {p.width} must be positive")
        out = (p.height, p.width)
    else:
        raise ctx.error("interp_param needs zoom_factor, shrink_factor, or height and width")
    if p.pad_beg or p.pad_end:
        b, e = -p.pad_beg, -p.pad_end
        x = ctx.op(Op.SLICE, [x], starts=(0, 0, b, b), ends=(x.shape[0], x.shape[1], h - e, w - e),
                   steps=(1, 1, 1, 1))
    eff = tuple(x.shape[2:])
    if eff == out:
        return [ctx.op(Op.IDENTITY, [x], top=0)]
    return [ctx.op(Op.RESIZE, [x], top=0, sizes=(x.shape[0], x.shape[1]) + out,
                   scales=(1.0, 1.0) + tuple(o / i for o, i in zip(out, eff)), mode="linear",
                   coordinate_transformation_mode="align_corners")]
