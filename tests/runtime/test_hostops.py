"""The host ops (``runtime/hostops.py``) against onnxruntime on drawn data: NMS on boxes with
ties, degenerate and flipped corners, every threshold; Unique on small integer ranges; TopK
with ties. Run directly (no compile), so hypothesis can afford many examples. And the errors a
user's data can cause."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto as T
from onnx import helper

from cortado.errors import InputError
from cortado.runtime.hostops import run_host_op
from cortado.testing.reference import run_onnxruntime


def _model(node, inputs):
    g = helper.make_graph([node], "h", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                          [helper.make_tensor_value_info(o, T.UNDEFINED, None) for o in node.output])
    for o, t in zip(g.output, _OUT_TYPES.get(node.op_type, ())):
        o.type.tensor_type.elem_type = t
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


_OUT_TYPES = {"NonMaxSuppression": (T.INT64,), "Unique": (T.FLOAT, T.INT64, T.INT64, T.INT64),
              "TopK": (T.FLOAT, T.INT64)}


@st.composite
def nms_cases(draw):
    b, c, n = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    grid = draw(st.sampled_from([2, 4, 100]))            # small grids: ties and identical boxes
    boxes = (rng.integers(0, grid, (b, n, 4)) / (grid / 4)).astype(np.float32)
    scores = (rng.integers(0, grid, (b, c, n)) / grid).astype(np.float32)
    return {"boxes": boxes, "scores": scores,
            "max_out": np.array([draw(st.integers(0, 5))], np.int64),
            "iou": np.array([draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]))], np.float32),
            "thr": np.array([draw(st.sampled_from([-1.0, 0.0, 0.25, 0.5]))], np.float32)}, draw(st.integers(0, 1))


@settings(max_examples=60)
@given(nms_cases())
def test_nms_matches_onnxruntime(case):
    feeds, center = case
    node = helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou", "thr"], ["sel"],
                            center_point_box=center)
    model = _model(node, [("boxes", T.FLOAT, None), ("scores", T.FLOAT, None), ("max_out", T.INT64, None),
                          ("iou", T.FLOAT, None), ("thr", T.FLOAT, None)])
    (want,) = run_onnxruntime(model, feeds)
    (got,) = run_host_op("NonMaxSuppression", {"center_point_box": center}, list(feeds.values()))
    np.testing.assert_array_equal(got, want)


@settings(max_examples=40)
@given(st.integers(1, 12), st.integers(1, 4), st.sampled_from([None, 0, 1]), st.integers(0, 1),
       st.integers(0, 2**16))
def test_unique_matches_onnxruntime(n, k, axis, sorted_, seed):
    x = np.random.default_rng(seed).integers(0, k, (n, 2)).astype(np.float32)
    attrs = {"sorted": sorted_} if axis is None else {"sorted": sorted_, "axis": axis}
    model = _model(helper.make_node("Unique", ["x"], ["y", "i", "inv", "c"], **attrs), [("x", T.FLOAT, None)])
    want = run_onnxruntime(model, {"x": x})
    got = run_host_op("Unique", {"axis": axis, "sorted": sorted_}, [x])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=40)
@given(st.integers(1, 9), st.integers(0, 9), st.integers(0, 1), st.integers(0, 2**16))
def test_topk_matches_onnxruntime(n, k, largest, seed):
    k = min(k, n)
    x = np.random.default_rng(seed).integers(0, 3, (2, n)).astype(np.float32)     # many ties
    model = _model(helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1, largest=largest),
                   [("x", T.FLOAT, None), ("k", T.INT64, None)])
    want = run_onnxruntime(model, {"x": x, "k": np.array([k], np.int64)})
    got = run_host_op("TopK", {"axis": 1, "largest": largest, "sorted": 1}, [x, np.array([k], np.int64)])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_errors_a_user_can_cause():
    boxes, scores = np.zeros((1, 2, 4), np.float32), np.zeros((1, 1, 2), np.float32)
    with pytest.raises(InputError, match="iou_threshold must be in"):
        run_host_op("NonMaxSuppression", {"center_point_box": 0},
                    [boxes, scores, np.array([1]), np.array([1.5], np.float32)])
    with pytest.raises(InputError, match="do not match"):
        run_host_op("NonMaxSuppression", {"center_point_box": 0}, [boxes, np.zeros((1, 1, 3), np.float32)])
    with pytest.raises(InputError, match="must hold one value"):
        run_host_op("TopK", {"axis": 0, "largest": 1, "sorted": 1}, [np.ones(3), np.array([1, 2])])
