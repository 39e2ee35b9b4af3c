"""Attribute-to-input moves and other opset differences: each spelling imports to the same
canonical IR and matches onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_helpers import check_against_onnxruntime, node_model

R = np.random.default_rng(3)


def f32(*shape):
    return R.standard_normal(shape).astype(np.float32)


def i64(*v):
    return np.array(v, np.int64)


CASES = {
    "Squeeze-11": lambda: (node_model("Squeeze", {"x": f32(3, 1, 4, 1)}, ["y"], opset=11, axes=[1, -1]), None),
    "Squeeze-13": lambda: (node_model("Squeeze", {"x": f32(3, 1, 4, 1)}, ["y"], opset=13, consts={"a": i64(-1)}), None),
    "Unsqueeze-11": lambda: (node_model("Unsqueeze", {"x": f32(3, 4)}, ["y"], opset=11, axes=[0, 3]), None),
    "Unsqueeze-13": lambda: (node_model("Unsqueeze", {"x": f32(3, 4)}, ["y"], opset=13, consts={"a": i64(-1, 1)}), None),
    "Clip-6-attrs": lambda: (node_model("Clip", {"x": f32(4, 5)}, ["y"], opset=6, min=-0.5, max=0.7), None),
    "Clip-13-max-only": lambda: (node_model("Clip", {"x": f32(4, 5)}, ["y"], opset=13, consts={"hi": np.float32(0.3)},
                                            input_order=["x", "", "hi"]), None),
    "Reshape-14-allowzero": lambda: (node_model("Reshape", {"x": f32(2, 3, 4)}, ["y"], opset=14,
                                                consts={"s": i64(0, -1)}, allowzero=0), None),
    "Flatten-negative": lambda: (node_model("Flatten", {"x": f32(2, 3, 4, 5)}, ["y"], opset=13, axis=-1), None),
    "ReduceSum-18-noop": lambda: (node_model("ReduceMean", {"x": f32(2, 3)}, ["y"], opset=18,
                                             consts={"a": np.zeros(0, np.int64)}, noop_with_empty_axes=1), None),
    "ReduceMean-18-all": lambda: (node_model("ReduceMean", {"x": f32(2, 3)}, ["y"], opset=18, keepdims=0), None),
    "Softmax-1": lambda: (node_model("Softmax", {"x": f32(2, 3, 4)}, ["y"], opset=1), None),
    "LogSoftmax-13-axis0": lambda: (node_model("LogSoftmax", {"x": f32(3, 4)}, ["y"], opset=13, axis=0), None),
    "Dropout-12-mask": lambda: (node_model("Dropout", {"x": f32(3, 4)}, ["y", "m"], opset=12), None),
    "BatchNormalization-9": lambda: (node_model("BatchNormalization", {"x": f32(2, 3, 4)}, ["y"], opset=9, consts={
        "s": f32(3), "b": f32(3), "m": f32(3), "v": R.uniform(0.5, 2, 3).astype(np.float32)}), None),
    "BatchNormalization-15": lambda: (node_model("BatchNormalization", {"x": f32(2, 3, 2, 2)}, ["y"], opset=15,
                                                 consts={"s": f32(3), "b": f32(3), "m": f32(3),
                                                         "v": R.uniform(0.5, 2, 3).astype(np.float32)},
                                                 epsilon=1e-3), None),
    "LayerNorm-mean-invstd": lambda: (node_model("LayerNormalization", {"x": f32(2, 5) * 2 + 1}, ["y", "mu", "rs"],
                                                 opset=17, consts={"s": f32(5)}), None),
    "GroupNorm-18-per-group": lambda: (node_model("GroupNormalization", {"x": f32(2, 4, 3)}, ["y"], opset=18,
                                                  consts={"s": f32(2), "b": f32(2)}, num_groups=2), None),
    "Mod-fmod0-float-28": lambda: (node_model("Mod", {"a": f32(6) * 5, "b": f32(6) + 0.5}, ["y"], opset=28), None),
    "Mod-fmod1": lambda: (node_model("Mod", {"a": f32(6) * 5, "b": f32(6) + 0.5}, ["y"], opset=13, fmod=1), None),
    "PRelu-per-channel": lambda: (node_model("PRelu", {"x": f32(2, 3, 4)}, ["y"], opset=9,
                                             consts={"s": np.array([[0.1], [0.2], [0.3]], np.float32)}), None),
    "Cast-to-half": lambda: (node_model("Cast", {"x": f32(7) * 100}, ["y"], opset=13, to=10), None),
    "CastLike-int": lambda: (node_model("CastLike", {"x": f32(7) * 10}, ["y"], opset=15,
                                        consts={"t": np.zeros(1, np.int32)}), None),
    "TopK-10": lambda: (node_model("TopK", {"x": f32(3, 6)}, ["v", "i"], opset=10, consts={"k": i64(2)}, axis=0), None),
    "Resize-10": lambda: (node_model("Resize", {"x": f32(1, 1, 2, 2)}, ["y"], opset=10,
                                     consts={"s": np.array([1, 1, 2, 3], np.float32)}), None),
    "Resize-18-axes-keep-ratio": lambda: (node_model("Resize", {"x": f32(1, 2, 4, 6)}, ["y"], opset=18, consts={
        "roi": np.zeros(0, np.float32), "s": np.zeros(0, np.float32), "z": i64(5, 5)}, axes=[2, 3],
        keep_aspect_ratio_policy="not_larger", mode="linear"), None),
    "Resize-19-half-pixel-symmetric": lambda: (node_model("Resize", {"x": f32(1, 1, 3, 4)}, ["y"], opset=19, consts={
        "roi": np.zeros(0, np.float32), "s": np.array([1, 1, 1.7, 0.8], np.float32)}, mode="linear",
        coordinate_transformation_mode="half_pixel_symmetric"), None),
    "Upsample-7": lambda: (node_model("Upsample", {"x": f32(1, 1, 2, 3)}, ["y"], opset=7, scales=[1.0, 1.0, 2.0, 2.0],
                                      mode="linear"), None),
    "Pad-11-no-value": lambda: (node_model("Pad", {"x": f32(2, 3)}, ["y"], opset=11, consts={"p": i64(1, 0, 0, 2)}), None),
    "Slice-10-no-axes": lambda: (node_model("Slice", {"x": f32(4, 6)}, ["y"], opset=10,
                                            consts={"s": i64(1, -4), "e": i64(3, 1000)}), None),
    "ArgMax-11-keepdims": lambda: (node_model("ArgMax", {"x": f32(3, 4)}, ["y"], opset=11, axis=-1), None),
    "Gemm-9-broadcast-C": lambda: (node_model("Gemm", {"a": f32(4, 3)}, ["y"], opset=9, consts={
        "b": f32(5, 3), "c": f32(5)}, transB=1, alpha=0.5, beta=2.0), None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_spelling_matches_onnxruntime(name):
    model, _ = CASES[name]()
    feeds = {}
    for vi in model.graph.input:
        t = vi.type.tensor_type
        shape = [d.dim_value for d in t.shape.dim]
        feeds[vi.name] = (np.random.default_rng(len(name)).standard_normal(shape) * 3).astype(np.float32)
    check_against_onnxruntime(model, feeds)
