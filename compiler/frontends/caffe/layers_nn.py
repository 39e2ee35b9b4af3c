"""Learned and windowed layers: Convolution, Deconvolution, InnerProduct, Pooling, LRN,
BatchNorm, Scale, Bias, Parameter.

Caffe semantics that differ from ONNX are made explicit here:

* Pooling rounds its output size up: ``out = ceil((H + 2p - k) / s) + 1``, minus one when
  the last window would start inside the bottom padding (forks may ask for floor rounding
  with ``ceil_mode: false`` or ``round_mode: FLOOR``). That is ``ceil_mode=1`` with pads
  ``(p, p)``; average pooling divides by the window clipped to the padded extent, which is
  ``count_include_pad=1`` (never counting the extra cells a rounded-up window hangs past).
* LRN WITHIN_CHANNEL is ``x * (1 + alpha * avg_pool(x^2, n x n))^-beta`` (its ``k`` is unused).
* BatchNorm stores ``mean * f``, ``var * f`` and ``f`` (a moving-average scale factor): the
  statistics are divided by ``f`` (``f == 0`` means zero statistics) before normalizing.
* InnerProduct flattens every axis from ``axis`` on, and keeps the ones before it.
* Scale/Bias apply a parameter covering ``num_axes`` axes from ``axis``, broadcast over the
  rest by reshaping it to ``shape + (1,) * trailing``.
"""

from __future__ import annotations

import numpy as np

from ...ir import Op
from ...ir.dims import prod
from .layers_upsample import max_pool_mask
from .registry import caffe_layer

FLT_MIN = 1.1754943508222875e-38


def _spatial(ctx, p, name: str, sp: int, default: int, *, h: str | None = None, w: str | None = None):
    """Caffe's per-axis value: ``name_h``/``name_w`` (2-D only), else a repeated field given
    once (all axes) or once per spatial axis."""
    if h and (p.has(h) or p.has(w)):
        if sp != 2:
            raise ctx.error(f"{h}/{w} only apply to 2-D spatial inputs")
        if name == "kernel_size" and not (p.has(h) and p.has(w)):
            raise ctx.error(f"give both {h} and {w}")
        return (getattr(p, h), getattr(p, w))
    values = list(getattr(p, name))
    if not values:
        if default is None:
            raise ctx.error(f"{name} is required")
        return (default,) * sp
    if len(values) == 1:
        return (values[0],) * sp
    if len(values) != sp:
        raise ctx.error(f"{name} has {len(values)} values for {sp} spatial axes")
    return tuple(values)


def conv_geometry(ctx, p, x, group: int | None = None):
    """Convolution attributes from a convolution_param; ``group`` overrides the field
    (depthwise forks)."""
    if ctx.axis(p.axis, x.type.rank) != 1:
        raise ctx.unsupported(f"convolution over axis {p.axis} (only channel axis 1 is supported)")
    sp = x.type.rank - 2
    if sp < 1:
        raise ctx.error(f"needs an input of rank >= 3, got {x.type}")
    kernel = _spatial(ctx, p, "kernel_size", sp, None, h="kernel_h", w="kernel_w")
    stride = _spatial(ctx, p, "stride", sp, 1, h="stride_h", w="stride_w")
    pad = _spatial(ctx, p, "pad", sp, 0, h="pad_h", w="pad_w")
    dilation = _spatial(ctx, p, "dilation", sp, 1)
    if not p.has("num_output") or p.num_output == 0:
        raise ctx.error("convolution_param.num_output is required")
    g = p.group if group is None else group
    if g < 1 or x.shape[1] % g or p.num_output % g:
        raise ctx.error(f"group {g} must divide the input channels ({x.shape[1]}) and num_output "
                        f"({p.num_output})")
    return dict(kernel_shape=kernel, strides=stride, pads=pad + pad, dilations=dilation, group=g)


@caffe_layer("Convolution")
def _convolution(ctx, layer, inputs):
    p = layer.param("convolution_param")
    geo = conv_geometry(ctx, p, inputs[0])
    cin = inputs[0].shape[1]
    w = ctx.const(ctx.blob(0, (p.num_output, cin // p.group, *geo["kernel_shape"]), "weight", what="weights"), "weight")
    b = ctx.const(ctx.blob(1, (p.num_output,), "bias", what="bias"), "bias") if p.bias_term else None
    outs = []
    for i, x in enumerate(inputs):   # several bottoms share the filters, one top each
        if x.type != inputs[0].type:
            raise ctx.error("all bottoms of a convolution must have the same shape")
        outs.append(ctx.op(Op.CONV, [x, w, b], top=i, **geo))
    return outs


@caffe_layer("Deconvolution")
def _deconvolution(ctx, layer, inputs):
    p = layer.param("convolution_param")
    geo = conv_geometry(ctx, p, inputs[0])
    cin = inputs[0].shape[1]
    sp = len(geo["kernel_shape"])
    w = ctx.const(ctx.blob(0, (cin, p.num_output // p.group, *geo["kernel_shape"]), "weight", what="weights",
                           fan_in=cin // p.group * int(np.prod(geo["kernel_shape"]))), "weight")
    b = ctx.const(ctx.blob(1, (p.num_output,), "bias", what="bias"), "bias") if p.bias_term else None
    return [ctx.op(Op.CONV_TRANSPOSE, [x, w, b], top=i, output_padding=(0,) * sp, **geo)
            for i, x in enumerate(inputs)]


@caffe_layer("InnerProduct")
def _inner_product(ctx, layer, inputs):
    p = layer.param("inner_product_param")
    x = inputs[0]
    rank = x.type.rank
    axis = ctx.axis(p.axis, rank)
    if not p.has("num_output") or p.num_output == 0:
        raise ctx.error("inner_product_param.num_output is required")
    n = p.num_output
    k = prod(x.shape[axis:])
    m = prod(x.shape[:axis])
    if not isinstance(k, int):
        raise ctx.error(f"the axes it flattens must have static sizes, got {x.type}")
    shape = (k, n) if p.transpose else (n, k)
    w = ctx.const(ctx.blob(0, shape, "weight", what="weights", fan_in=k), "weight")
    b = ctx.const(ctx.blob(1, (n,), "bias", what="bias"), "bias") if p.bias_term else None
    out_shape = tuple(x.shape[:axis]) + (n,)
    flat = x if tuple(x.shape) == (m, k) else ctx.op(Op.RESHAPE, [x], shape=(m, k))
    last = out_shape == (m, n)
    y = ctx.op(Op.GEMM, [flat, w, b], top=0 if last else None, transB=0 if p.transpose else 1)
    return [y if last else ctx.op(Op.RESHAPE, [y], shape=out_shape, top=0)]


def caffe_pool_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Caffe's pooled length: rounded up, minus one if the last window starts in the padding."""
    out = -(-(size + 2 * pad - kernel) // stride) + 1
    if pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def rounds_up(ctx, p) -> bool:
    """Whether a pooling layer rounds its output size up (Caffe's only behaviour) or down.

    Two fork fields choose floor rounding: ``ceil_mode: false`` (BVLC pull request 3057, in
    OpenCV's schema and DenseNet's release) and ``round_mode: FLOOR`` (the PSPNet/TSN forks).
    Giving both with different answers is an error rather than a guess."""
    votes = []
    if p.has("ceil_mode"):
        votes.append(("ceil_mode", bool(p.ceil_mode)))
    if p.has("round_mode"):
        votes.append(("round_mode", p.round_mode == "CEIL"))
    if len({v for _, v in votes}) > 1:
        raise ctx.error(f"pooling_param sets ceil_mode: {str(p.ceil_mode).lower()} and round_mode: "
                        f"{p.round_mode}, which disagree", hint="keep one of the two")
    return votes[0][1] if votes else True


@caffe_layer("Pooling")
def _pooling(ctx, layer, inputs):
    p = layer.param("pooling_param")
    x = inputs[0]
    if x.type.rank != 4:
        raise ctx.error(f"Caffe pooling needs a 4-D input, got {x.type}")
    method = p.pool
    if p.global_pooling:
        if p.has("kernel_size") or p.has("kernel_h"):
            raise ctx.error("global_pooling takes no kernel size")
        if method == "STOCHASTIC":
            raise ctx.unsupported("global STOCHASTIC pooling")
        op = Op.GLOBAL_MAX_POOL if method == "MAX" else Op.GLOBAL_AVERAGE_POOL
        return [ctx.op(op, [x], top=0)]
    if p.has("kernel_size") == (p.has("kernel_h") or p.has("kernel_w")):
        raise ctx.error("give the pooling window as kernel_size or as kernel_h and kernel_w (one of the two)")
    if p.has("kernel_size"):
        kernel = (p.kernel_size, p.kernel_size)
    elif p.has("kernel_h") and p.has("kernel_w"):
        kernel = (p.kernel_h, p.kernel_w)
    else:
        raise ctx.error("give both kernel_h and kernel_w")
    pad = (p.pad_h, p.pad_w) if p.has("pad_h") or p.has("pad_w") else (p.pad, p.pad)
    stride = (p.stride_h, p.stride_w) if p.has("stride_h") or p.has("stride_w") else (p.stride, p.stride)
    sizes = tuple(x.shape[2:])
    if not all(isinstance(s, int) for s in sizes):
        raise ctx.error(f"pooling needs static spatial sizes, got {x.type}")
    for i in range(2):
        if pad[i] >= kernel[i]:
            raise ctx.error(f"pad {pad} must be smaller than the kernel {kernel}")
        if sizes[i] + 2 * pad[i] < kernel[i]:
            raise ctx.error(f"kernel {kernel} does not fit the padded input {sizes}")
    floor = tuple((sizes[i] + 2 * pad[i] - kernel[i]) // stride[i] + 1 for i in range(2))
    if rounds_up(ctx, p):
        want = tuple(caffe_pool_size(sizes[i], kernel[i], stride[i], pad[i]) for i in range(2))
    else:
        want = floor
    for i in range(2):
        if (want[i] - 1) * stride[i] >= sizes[i] + pad[i]:
            raise ctx.unsupported(f"stride {stride} > kernel {kernel} makes Caffe's last window start past the "
                                  "input (an empty window)")
    attrs = dict(kernel_shape=kernel, strides=stride, pads=pad + pad, dilations=(1, 1),
                 ceil_mode=int(want != floor))
    if len(layer.tops) == 2 and method != "MAX":
        raise ctx.error("only MAX pooling has a second (mask) top")
    if method == "MAX":
        pooled = ctx.op(Op.MAX_POOL, [x], top=0, **attrs)
        if len(layer.tops) == 2:
            return [pooled, max_pool_mask(ctx, x, kernel, stride, pad, want, top=1)]
        return [pooled]
    if method == "AVE":
        return [ctx.op(Op.AVERAGE_POOL, [x], top=0, count_include_pad=1, **attrs)]
    # STOCHASTIC at test time: a probability-weighted average, sum(x^2) / sum(x) per window
    if pad != (0, 0):
        raise ctx.unsupported("STOCHASTIC pooling with padding")
    sq = ctx.op(Op.AVERAGE_POOL, [ctx.op(Op.MUL, [x, x])], count_include_pad=0, **attrs)
    mean = ctx.op(Op.AVERAGE_POOL, [x], count_include_pad=0, **attrs)
    return [ctx.op(Op.DIV, [sq, ctx.op(Op.ADD, [mean, ctx.scalar(FLT_MIN, "flt_min")])], top=0)]


@caffe_layer("LRN")
def _lrn(ctx, layer, inputs):
    p = layer.param("lrn_param")
    x = inputs[0]
    n = p.local_size
    if n % 2 == 0 or n < 1:
        raise ctx.error(f"local_size must be odd and positive, got {n}")
    if x.type.rank != 4:
        raise ctx.error(f"LRN needs a 4-D input, got {x.type}")
    if p.norm_region == "ACROSS_CHANNELS":
        return [ctx.op(Op.LRN, [x], top=0, size=n, alpha=p.alpha, beta=p.beta, bias=p.k)]
    pre = (n - 1) // 2
    sq = ctx.op(Op.MUL, [x, x])
    avg = ctx.op(Op.AVERAGE_POOL, [sq], kernel_shape=(n, n), strides=(1, 1), pads=(pre,) * 4, dilations=(1, 1),
                 ceil_mode=0, count_include_pad=1)
    base = ctx.op(Op.ADD, [ctx.op(Op.MUL, [avg, ctx.scalar(p.alpha, "alpha")]), ctx.scalar(1.0, "one")])
    scale = ctx.op(Op.POW, [base, ctx.scalar(-p.beta, "neg_beta")])
    return [ctx.op(Op.MUL, [x, scale], top=0)]


@caffe_layer("BatchNorm")
def _batch_norm(ctx, layer, inputs):
    p = layer.param("batch_norm_param")
    x = inputs[0]
    if p.has("use_global_stats") and not p.use_global_stats:
        raise ctx.unsupported("use_global_stats: false normalizes with the statistics of each batch; "
                              "inference needs the stored global statistics")
    if x.type.rank < 2:
        raise ctx.error(f"BatchNorm needs rank >= 2, got {x.type}")
    c = x.shape[1]
    mean = ctx.blob(0, (c,), "mean", what="mean")
    var = ctx.blob(1, (c,), "variance", what="variance")
    factor = float(ctx.blob(2, (1,), "factor", what="moving-average factor")[0])
    f = 0.0 if factor == 0 else 1.0 / factor
    return [ctx.op(Op.BATCH_NORMALIZATION, [x, ctx.const(np.ones(c), "scale"), ctx.const(np.zeros(c), "shift"),
                                            ctx.const(mean * f, "mean"), ctx.const(var * f, "var")],
                   top=0, epsilon=p.eps)]


def _param_shape(ctx, x, axis_field: int, num_axes: int):
    rank = x.type.rank
    axis = ctx.axis(axis_field, rank)
    if num_axes < -1:
        raise ctx.error(f"num_axes must be >= -1, got {num_axes}")
    end = rank if num_axes == -1 else axis + num_axes
    if end > rank:
        raise ctx.error(f"axis {axis} + num_axes {num_axes} exceeds the input rank {rank}")
    return axis, tuple(x.shape[axis:end])


def _broadcastable(ctx, value_shape, axis: int, rank: int):
    """Parameter shape -> the shape that broadcasts it against the input from ``axis``."""
    return tuple(value_shape) + (1,) * (rank - axis - len(value_shape))


def _affine(ctx, layer, inputs, op, param_name: str, init: str):
    p = layer.param(param_name)
    x = inputs[0]
    rank = x.type.rank
    if len(inputs) == 2:
        axis = ctx.axis(p.axis, rank)
        other = inputs[1]
        shape = tuple(other.shape)
        if shape and tuple(x.shape[axis:axis + len(shape)]) != shape:
            raise ctx.error(f"the second bottom {other.type} does not match the input {x.type} from axis {axis}")
        if not shape:
            param = other
        else:
            target = _broadcastable(ctx, shape, axis, rank)
            param = other if target == shape else ctx.op(Op.RESHAPE, [other], shape=target)
        n_blobs = 0
    else:
        axis, shape = _param_shape(ctx, x, p.axis, p.num_axes)
        if not all(isinstance(d, int) for d in shape):
            raise ctx.error(f"the learned parameter needs static dims, got {shape}")
        arr = ctx.blob(0, shape, init, what=init)
        param = ctx.const(arr.reshape(_broadcastable(ctx, shape, axis, rank)) if shape else arr.reshape(()), init)
        n_blobs = 1
    with_bias = param_name == "scale_param" and p.bias_term
    y = ctx.op(op, [x, param], top=None if with_bias else 0)
    if with_bias:
        bias = ctx.blob(n_blobs, shape, "shift", what="bias")
        b = ctx.const(bias.reshape(_broadcastable(ctx, shape, axis, rank)) if shape else bias.reshape(()), "bias")
        y = ctx.op(Op.ADD, [y, b], top=0)
    return [y]


@caffe_layer("Scale")
def _scale(ctx, layer, inputs):
    return _affine(ctx, layer, inputs, Op.MUL, "scale_param", "scale")


@caffe_layer("Bias")
def _bias(ctx, layer, inputs):
    return _affine(ctx, layer, inputs, Op.ADD, "bias_param", "shift")


@caffe_layer("Parameter")
def _parameter(ctx, layer, inputs):
    shape = tuple(int(d) for d in layer.param("parameter_param").shape.dim)
    value = ctx.const(ctx.blob(0, shape, "normal", what="parameter"), "value")
    return [ctx.op(Op.IDENTITY, [value], top=0)]
