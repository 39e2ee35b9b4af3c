"""ONNX models with data-dependent output sizes, built with onnx.helper, for the segment tests
(``test_data_dependent.py``) and the artifact test. Each puts kernels after its host step, so
the kernels run at sizes bound at run time."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto as T
from onnx import helper, numpy_helper

F, I64, B = T.FLOAT, T.INT64, T.BOOL


def _model(nodes, inputs, outputs, inits=(), opset: int = 17):
    g = helper.make_graph(nodes, "dynamic", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                          [helper.make_tensor_value_info(n, t, None) for n, t in outputs],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def nonzero_model():
    """NonZero of a (N, 5) tensor, its indices scaled by a kernel."""
    return _model([helper.make_node("NonZero", ["x"], ["nz"]),
                   helper.make_node("Cast", ["nz"], ["f"], to=F),
                   helper.make_node("Mul", ["f", "two"], ["y"])],
                  [("x", F, ["N", 5])], [("nz", I64), ("y", F)], [("two", np.float32(2.0))])


def topk_model():
    """TopK of (N, 8) along the last axis with K a graph input; a kernel adds 1 to the values."""
    return _model([helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=-1, largest=1),
                   helper.make_node("Add", ["v", "one"], ["y"])],
                  [("x", F, ["N", 8]), ("k", I64, [1])], [("y", F), ("i", I64)], [("one", np.float32(1.0))])


def nms_model(center_point_box: int):
    """NonMaxSuppression with every threshold a graph input (box count N symbolic), then the
    selected boxes gathered and their scores picked by a kernel."""
    return _model([
        helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou", "thr"], ["sel"],
                         center_point_box=center_point_box),
        helper.make_node("Gather", ["sel", "col2"], ["box_idx"], axis=1),
        helper.make_node("Squeeze", ["box_idx", "ax1"], ["bi"]),
        helper.make_node("Gather", ["boxes0", "bi"], ["picked"], axis=0),
        helper.make_node("Squeeze", ["boxes", "ax0"], ["boxes0"]),
    ], [("boxes", F, [1, "N", 4]), ("scores", F, [1, 3, "N"]), ("max_out", I64, [1]), ("iou", F, [1]),
        ("thr", F, [1])], [("sel", I64), ("picked", F)],
        [("col2", np.array([2], np.int64)), ("ax1", np.array([1], np.int64)), ("ax0", np.array([0], np.int64))])


def unique_model(axis=None, sorted_: int = 1):
    attrs = {"sorted": sorted_} if axis is None else {"sorted": sorted_, "axis": axis}
    shape = ["N"] if axis is None else ["N", 3]
    return _model([helper.make_node("Unique", ["x"], ["y", "idx", "inv", "cnt"], **attrs),
                   helper.make_node("Mul", ["y", "y"], ["y2"])],
                  [("x", F, shape)], [("y2", F), ("idx", I64), ("inv", I64), ("cnt", I64)])


def compress_model(axis):
    if axis is None:
        shape, cond = [4, 3], [12]
    elif axis == 0:
        shape, cond = ["N", 3], ["N"]
    else:
        shape, cond = ["N", 5], [5]
    attrs = {} if axis is None else {"axis": axis}
    return _model([helper.make_node("Compress", ["x", "c"], ["y"], **attrs),
                   helper.make_node("Exp", ["y"], ["z"])],
                  [("x", F, shape), ("c", B, cond)], [("z", F)])


def compress_unique_model():
    """Compress then Unique: an empty selection makes Unique's input empty too (two segments)."""
    return _model([helper.make_node("Compress", ["x", "c"], ["y"], axis=0),
                   helper.make_node("Unique", ["y"], ["u", "idx", "inv", "cnt"]),
                   helper.make_node("Neg", ["u"], ["z"])],
                  [("x", F, ["N"]), ("c", B, ["N"])], [("z", F), ("cnt", I64), ("inv", I64)])


def detector_head(num_classes: int = 3, max_per_class: int = 4):
    """A small detector's post-processing: a 1x1-conv head over a (1, 8, H, W) feature map gives
    per-anchor box offsets and class logits; boxes are decoded against fixed anchors, scores
    are sigmoids, NonMaxSuppression (per class, thresholds as constants) selects, and the
    selected boxes and scores are gathered (GatherND) as the model's outputs."""
    rng = np.random.default_rng(7)
    c = 8
    w_box = rng.standard_normal((4, c, 1, 1)).astype(np.float32) * 0.3
    w_cls = rng.standard_normal((num_classes, c, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["feat", "w_box"], ["off"]),                 # (1, 4, H, W)
        helper.make_node("Conv", ["feat", "w_cls"], ["logit"]),               # (1, C, H, W)
        helper.make_node("Reshape", ["off", "shape_b"], ["off_r"]),           # (1, 4, HW)
        helper.make_node("Transpose", ["off_r"], ["off_t"], perm=[0, 2, 1]),  # (1, HW, 4)
        helper.make_node("Add", ["off_t", "anchors"], ["boxes"]),
        helper.make_node("Reshape", ["logit", "shape_c"], ["logit_r"]),       # (1, C, HW)
        helper.make_node("Sigmoid", ["logit_r"], ["scores"]),
        helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou", "thr"], ["sel"]),
        helper.make_node("Gather", ["sel", "ib"], ["batch_box"], axis=1),      # [batch, box]
        helper.make_node("GatherND", ["scores", "sel"], ["sel_scores"]),
        helper.make_node("GatherND", ["boxes", "batch_box"], ["sel_boxes"]),
    ]
    hw = 4 * 4
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(4), indexing="ij"), -1).reshape(hw, 2).astype(np.float32)
    anchors = np.concatenate([grid, grid + 1.5], axis=1)[None]               # (1, HW, 4) [y1, x1, y2, x2]
    inits = [("w_box", w_box), ("w_cls", w_cls), ("shape_b", np.array([1, 4, hw], np.int64)),
             ("shape_c", np.array([1, num_classes, hw], np.int64)), ("anchors", anchors),
             ("max_out", np.array([max_per_class], np.int64)), ("iou", np.array([0.4], np.float32)),
             ("thr", np.array([0.55], np.float32)), ("ib", np.array([0, 2], np.int64))]
    return _model(nodes, [("feat", F, [1, c, 4, 4])], [("sel", I64), ("sel_scores", F), ("sel_boxes", F)], inits)
