"""SSD's DetectionOutput (the IR op after the box decoding) as an ONNX subgraph around
NonMaxSuppression, computing exactly what ``runtime.hostops.detection_output`` computes:

1. Caffe's overlap of an *inverted* box (xmax < xmin or ymax < ymin) is 0 with every box, and
   ONNX NMS never suppresses with or against a box of zero area: inverted boxes go to NMS as
   ``[0, 0, 0, 0]``. Between valid boxes the two overlaps are the same float32 arithmetic. NMS
   reads ``[x1, y1, x2, y2]`` as its ``[y1, x1, y2, x2]``: IoU is symmetric in x and y.
2. NMS over ``scores`` (N, C, P) with ``score_threshold = confidence_threshold`` (both keep
   ``score > threshold``); with per-class boxes (``share_location: false``) the classes are
   folded into the batch, ``(N * C, P, 4)`` boxes and ``(N * C, 1, P)`` scores.
3. Caffe keeps the ``top_k`` best candidates of a class *before* NMS. A greedy NMS decision
   depends only on better boxes, so that equals NMS over all candidates (at most ``top_k``
   selected) followed by dropping the boxes whose rank among the class's scores is ``top_k``
   or more (rank: better scores, then equal scores at a lower index). The background class is
   dropped here too.
4. Each image's rows best first: a stable sort by score, then a stable sort by image (ONNX
   TopK puts equal values in index order); ties keep (label, NMS order), as the host op does.
5. ``keep_top_k``: a row's position minus its image's first position (an exclusive CumSum of
   the per-image counts) must be below it.
6. Rows ``[image, label, score, xmin, ymin, xmax, ymax]`` gathered from the scores and the boxes.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from cortado.runtime.errors import ShapeError

from .onnx_registry import emits
from ..ir import Op


class _Builder:
    """Nodes and constants of one subgraph, named after the IR node."""

    def __init__(self, ctx, base: str):
        self.ctx, self.base, self.nodes = ctx, base, []

    def __call__(self, op: str, inputs: list[str], hint: str, outputs: int = 1, **attrs):
        outs = [self.ctx.fresh(f"{self.base}/{hint}") for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.ctx.fresh(f"{self.base}/{hint}_op"), **attrs))
        return outs[0] if outputs == 1 else outs

    def const(self, value, dtype, hint: str) -> str:
        name = self.ctx.fresh(f"{self.base}/{hint}")
        self.ctx.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def cols(self, x: str, lo: int, hi: int, hint: str) -> str:
        """``x[..., lo:hi]``."""
        return self(op="Slice", inputs=[x, self.const([lo], np.int64, "lo"), self.const([hi], np.int64, "hi"),
                                        self.const([-1], np.int64, "axis")], hint=hint)

    def keep(self, sel: str, mask: str, hint: str) -> str:
        """The rows of ``sel`` where the (K, 1) or (K,) ``mask`` holds."""
        flat = self("Reshape", [mask, self.const([-1], np.int64, "flat")], f"{hint}_mask")
        idx = self("Reshape", [self("NonZero", [flat], f"{hint}_nz"), self.const([-1], np.int64, "flat")],
                   f"{hint}_idx")
        return self("Gather", [sel, idx], hint, axis=0)


@emits(Op.DETECTION_OUTPUT)
def _detection_output(ctx, node, ins, outs):
    a = node.attrs
    boxes_v, scores_v = node.inputs
    p, c = scores_v.shape[1], scores_v.shape[2]
    if not (isinstance(p, int) and isinstance(c, int)):
        raise ShapeError(f"DetectionOutput {node.name}: export needs static prior and class counts, got {scores_v}")
    shared = boxes_v.type.rank == 3
    g = _Builder(ctx, node.name)
    boxes, scores = ins
    i64, f32 = np.int64, np.float32
    st = g("Transpose", [scores], "scores_ncp", perm=[0, 2, 1])                       # (N, C, P)

    # 1. inverted boxes (Caffe: overlap 0) become zero boxes (NMS: never suppress)
    size = g("Sub", [g.cols(boxes, 2, 4, "hi"), g.cols(boxes, 0, 2, "lo")], "size")
    zero = g.const(0.0, f32, "zero")
    inverted = g("Or", [g("Less", [g.cols(size, 0, 1, "w"), zero], "w_neg"),
                        g("Less", [g.cols(size, 1, 2, "h"), zero], "h_neg")], "inverted")
    nms_boxes = g("Where", [inverted, zero, boxes], "nms_boxes")

    # 2. NMS, classes folded into the batch for per-class boxes
    nms_scores = st
    if not shared:
        nms_boxes = g("Reshape", [g("Transpose", [nms_boxes], "boxes_nc", perm=[0, 2, 1, 3]),
                                  g.const([-1, p, 4], i64, "shape")], "nms_boxes_folded")
        nms_scores = g("Reshape", [st, g.const([-1, 1, p], i64, "shape")], "nms_scores_folded")
    max_out = a.top_k if a.top_k > -1 else p
    sel = g("NonMaxSuppression", [nms_boxes, nms_scores, g.const([max_out], i64, "max_out"),
                                  g.const([min(a.nms_threshold, 1.0)], f32, "iou"),   # no IoU exceeds 1
                                  g.const([a.confidence_threshold], f32, "score_threshold")],
            "selected", center_point_box=0)
    if not shared:
        folded = g.cols(sel, 0, 1, "folded")
        classes = g.const(c, i64, "classes")
        sel = g("Concat", [g("Div", [folded, classes], "image"), g("Mod", [folded, classes], "label"),
                           g.cols(sel, 2, 3, "box")], "selected_per_class", axis=1)

    # 3. the background class, and what Caffe's top_k would not have let into NMS
    mask = None
    if 0 <= a.background_label_id < c:
        mask = g("Not", [g("Equal", [g.cols(sel, 1, 2, "label"), g.const(a.background_label_id, i64, "bg")],
                           "is_bg")], "not_bg")
    if a.top_k > -1:
        score = g("Unsqueeze", [g("GatherND", [st, sel], "sel_score"), g.const([1], i64, "axis")], "score_col")
        row = g("GatherND", [st, g.cols(sel, 0, 2, "image_label")], "class_scores")          # (K, P)
        better = g("Cast", [g("Greater", [row, score], "better_b")], "better", to=TensorProto.INT64)
        earlier = g("Less", [g.const(np.arange(p).reshape(1, p), i64, "positions"), g.cols(sel, 2, 3, "box")],
                    "earlier")
        tied = g("Cast", [g("And", [g("Equal", [row, score], "equal"), earlier], "tied_b")], "tied",
                 to=TensorProto.INT64)
        rank = g("ReduceSum", [g("Add", [better, tied], "ahead"), g.const([1], i64, "axis")], "rank", keepdims=1)
        in_top = g("Less", [rank, g.const(a.top_k, i64, "top_k")], "in_top_k")
        mask = in_top if mask is None else g("And", [mask, in_top], "kept")
    if mask is not None:
        sel = g.keep(sel, mask, "selected_kept")

    # 4. image by image, best score first (two stable sorts)
    count = g("Shape", [sel], "count", start=0, end=1)
    _, by_score = g("TopK", [g("GatherND", [st, sel], "scores_kept"), count], "by_score", outputs=2,
                    axis=0, largest=1, sorted=1)
    sel = g("Gather", [sel, by_score], "sorted_by_score", axis=0)
    image = g("Cast", [g("Reshape", [g.cols(sel, 0, 1, "img"), g.const([-1], i64, "flat")], "img_flat")],
              "img_float", to=TensorProto.FLOAT)
    _, by_image = g("TopK", [image, count], "by_image", outputs=2, axis=0, largest=0, sorted=1)
    sel = g("Gather", [sel, by_image], "sorted", axis=0)

    # 5. keep_top_k rows per image
    if a.keep_top_k > -1:
        img = g.cols(sel, 0, 1, "img")                                                   # (K, 1)
        n = g("Squeeze", [g("Shape", [scores], "batch", start=0, end=1), g.const([0], i64, "axis")], "n")
        images = g("Unsqueeze", [g("Range", [g.const(0, i64, "zero_i"), n, g.const(1, i64, "one_i")], "images"),
                                 g.const([0], i64, "axis")], "images_row")               # (1, N)
        per_image = g("ReduceSum", [g("Cast", [g("Equal", [img, images], "of_image")], "of_image_i",
                                      to=TensorProto.INT64), g.const([0], i64, "axis")], "per_image", keepdims=0)
        starts = g("CumSum", [per_image, g.const(0, i64, "axis0")], "starts", exclusive=1)
        k = g("Squeeze", [count, g.const([0], i64, "axis")], "k")
        pos = g("Range", [g.const(0, i64, "zero_i"), k, g.const(1, i64, "one_i")], "positions_k")
        first = g("Gather", [starts, g("Reshape", [img, g.const([-1], i64, "flat")], "img_idx")], "first", axis=0)
        within = g("Less", [g("Sub", [pos, first], "rank_in_image"), g.const(a.keep_top_k, i64, "keep_top_k")],
                   "within")
        sel = g.keep(sel, within, "selected_top")

    # 6. the rows
    score = g("Unsqueeze", [g("GatherND", [st, sel], "row_score"), g.const([1], i64, "axis")], "row_score_col")
    where = g("Gather", [sel, g.const([0, 2] if shared else [0, 2, 1], i64, "box_cols")], "box_index", axis=1)
    box = g("GatherND", [boxes, where], "row_box")
    head = g("Cast", [g.cols(sel, 0, 2, "image_label")], "image_label_f", to=TensorProto.FLOAT)
    g.nodes.append(helper.make_node("Concat", [head, score, box], [outs[0]], name=node.name, axis=1))
    return g.nodes
