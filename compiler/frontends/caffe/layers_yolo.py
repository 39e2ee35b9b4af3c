"""The YOLOv2 Caffe ports' layers: Reorg and Region.

* Reorg: Darknet's reorg, which is *not* a SpaceToDepth: the input's flat buffer is read as
  ``(C/s², H·s, W·s)`` and written as ``(C, H, W)`` (the ports copy Darknet's ``reorg_cpu``;
  OpenCV does the same), then viewed as ``(C·s², H/s, W/s)``. With ``reverse: true`` the
  inverse permutation. Reshapes and a Transpose either way.
* Region at inference is Darknet's ``forward_region_layer``: the blob keeps its shape
  ``(N, num * (coords + 1 + classes), H, W)``; in each anchor's block the first two channels
  (x, y) and the objectness channel (``coords``) go through a sigmoid, the box sizes stay
  raw, and the class channels become a softmax over the classes with ``softmax``, else each
  goes through a sigmoid (Darknet since its ``entry_index`` layout, which the ports copy). Decoding
  boxes with the anchors (``biases``/``anchors``) and thresholding happen on the host after
  the net, as in the ports' deploy code. (OpenCV's Region layer decodes boxes itself; the
  tests compare with Darknet's rule instead.)
"""

from __future__ import annotations

from ...ir import Op
from .registry import caffe_layer


@caffe_layer("Reorg")
def _reorg(ctx, layer, inputs):
    p = layer.param("reorg_param")
    x = inputs[0]
    s = p.stride
    if x.type.rank != 4:
        raise ctx.error(f"Reorg needs a 4-D input, got {x.type}")
    n, c, h, w = x.shape
    if not all(isinstance(d, int) for d in (c, h, w)):
        raise ctx.error(f"Reorg needs static channel and spatial sizes, got {x.type}")
    if s < 1:
        raise ctx.error(f"stride must be positive, got {s}")
    if not p.reverse:
        if c % (s * s) or h % s or w % s:
            raise ctx.error(f"stride {s} needs channels divisible by {s * s} and sizes by {s}, got {x.type}")
        oc = c // (s * s)
        # out[k = (oy*s + ox)*oc + c2, j, i] = in viewed as (oc, H*s... ) = in[c2, j*s + oy, i*s + ox]
        v = ctx.op(Op.RESHAPE, [x], shape=(n, oc, h, s, w, s))
        v = ctx.op(Op.TRANSPOSE, [v], perm=(0, 3, 5, 1, 2, 4))
        return [ctx.op(Op.RESHAPE, [v], top=0, shape=(n, c * s * s, h // s, w // s))]
    # reverse: the inverse of the above for a (C, H, W) input giving (C/s², H·s, W·s)
    if c % (s * s):
        raise ctx.error(f"stride {s} with reverse needs channels divisible by {s * s}, got {x.type}")
    oc = c // (s * s)
    v = ctx.op(Op.RESHAPE, [x], shape=(n, s, s, oc, h, w))
    v = ctx.op(Op.TRANSPOSE, [v], perm=(0, 3, 4, 1, 5, 2))
    return [ctx.op(Op.RESHAPE, [v], top=0, shape=(n, oc, h * s, w * s))]


@caffe_layer("Region")
def _region(ctx, layer, inputs):
    p = layer.param("region_param")
    x = inputs[0]
    if x.type.rank != 4:
        raise ctx.error(f"Region needs a 4-D input, got {x.type}")
    if p.softmax_tree:
        raise ctx.unsupported("softmax_tree (YOLO9000's hierarchical softmax) is not supported")
    n, c, h, w = x.shape
    if p.has("num") and p.has("boxes_of_each_grid") and p.num != p.boxes_of_each_grid:
        raise ctx.error(f"num {p.num} and boxes_of_each_grid {p.boxes_of_each_grid} disagree")
    a = p.boxes_of_each_grid if p.has("boxes_of_each_grid") else p.num   # the name some ports use
    k, coords = p.classes, p.coords
    if coords < 2 or a < 1:
        raise ctx.error(f"coords {coords} must be at least 2 and num {a} positive")
    block = coords + 1 + k
    if c != a * block:
        raise ctx.error(f"the input has {c} channels; num {a} x (coords {coords} + 1 + classes {k}) = {a * block}")
    v = ctx.op(Op.RESHAPE, [x], shape=(n, a, block, h, w))
    xy = ctx.op(Op.SIGMOID, [_channels(ctx, v, 0, 2)])
    parts = [xy]
    if coords > 2:
        parts.append(_channels(ctx, v, 2, coords))
    parts.append(ctx.op(Op.SIGMOID, [_channels(ctx, v, coords, coords + 1)]))
    if k:
        cls = _channels(ctx, v, coords + 1, block)
        parts.append(ctx.op(Op.SOFTMAX, [cls], axis=2) if p.softmax else ctx.op(Op.SIGMOID, [cls]))
    out = ctx.op(Op.CONCAT, parts, axis=2)
    return [ctx.op(Op.RESHAPE, [out], top=0, shape=(n, c, h, w))]


def _channels(ctx, v, start: int, end: int):
    """Channels [start, end) of every anchor block of a (N, A, block, H, W) view."""
    n, a, block, h, w = v.shape
    return ctx.op(Op.SLICE, [v], starts=(0, 0, start, 0, 0), ends=(n, a, end, h, w), steps=(1,) * 5)
