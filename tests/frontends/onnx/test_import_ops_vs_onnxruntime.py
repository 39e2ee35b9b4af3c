"""Every op family the ONNX frontend imports, compiled and run on the interpreter, against
onnxruntime on random data — and the IR's numpy reference against onnxruntime too, since
passes and constant folding trust it. Odd shapes, negative axes and indices, both opset
spellings where an attribute moved to an input."""

from __future__ import annotations

import numpy as np
import pytest
from onnx_helpers import check_against_onnxruntime, node_model


def case(op, inputs, outputs, **kw):
    return node_model(op, inputs, outputs, **kw), inputs

R = np.random.default_rng(7)


def f32(*shape):
    return R.standard_normal(shape).astype(np.float32)


def i64(*values):
    return np.array(values, dtype=np.int64)


CASES = {
    # reductions (axes as an attribute before opset 13/18, as an input after)
    "ReduceSum-13-input-axes": lambda: case("ReduceSum", {"x": f32(3, 5, 7)}, ["y"], opset=13,
                                                   consts={"axes": i64(0, -1)}, keepdims=0),
    "ReduceMean-11-attr": lambda: case("ReduceMean", {"x": f32(4, 6, 5)}, ["y"], opset=11, axes=[1]),
    "ReduceMax-18-input": lambda: case("ReduceMax", {"x": f32(2, 9, 3)}, ["y"], opset=18,
                                              consts={"axes": i64(1)}),
    "ReduceMin-int32-all": lambda: case("ReduceMin", {"x": R.integers(-50, 50, (3, 4)).astype(np.int32)},
                                               ["y"], opset=13, keepdims=0),
    "ReduceProd": lambda: case("ReduceProd", {"x": R.uniform(0.5, 1.5, (3, 4, 5)).astype(np.float32)},
                                      ["y"], opset=13, axes=[0, 2]),
    "ReduceL1": lambda: case("ReduceL1", {"x": f32(3, 17)}, ["y"], opset=13, axes=[1]),
    "ReduceL2": lambda: case("ReduceL2", {"x": f32(3, 17)}, ["y"], opset=13, axes=[0]),
    "ReduceLogSum": lambda: case("ReduceLogSum", {"x": R.uniform(0.1, 2, (5, 6)).astype(np.float32)},
                                        ["y"], opset=13, axes=[1]),
    "ReduceLogSumExp": lambda: case("ReduceLogSumExp", {"x": f32(5, 6) * 30}, ["y"], opset=13, axes=[1]),
    "ReduceSumSquare-18": lambda: case("ReduceSumSquare", {"x": f32(2, 3, 4)}, ["y"], opset=18,
                                              consts={"axes": i64(1, 2)}, keepdims=0),
    "ReduceSum-long-row": lambda: case("ReduceSum", {"x": f32(3, 9000)}, ["y"], opset=13,
                                              consts={"axes": i64(1)}),
    "ArgMax-last": lambda: case("ArgMax", {"x": R.integers(0, 3, (4, 7)).astype(np.float32)}, ["y"],
                                       opset=13, axis=1, keepdims=0, select_last_index=1),
    "ArgMin": lambda: case("ArgMin", {"x": f32(5, 3, 2)}, ["y"], opset=13, axis=-2),
    # normalizations
    "Softmax-11-flattens": lambda: case("Softmax", {"x": f32(2, 3, 4)}, ["y"], opset=11, axis=1),
    "Hardmax-13": lambda: case("Hardmax", {"x": f32(3, 4, 5)}, ["y"], opset=13, axis=1),
    "LayerNormalization": lambda: case("LayerNormalization", {"x": f32(2, 3, 6) * 3 + 5},
                                              ["y"], opset=17, consts={"s": f32(3, 6), "b": f32(6)}, axis=1),
    "InstanceNormalization": lambda: case("InstanceNormalization", {"x": f32(2, 3, 5, 4)}, ["y"], opset=6,
                                                 consts={"s": f32(3), "b": f32(3)}, epsilon=1e-3),
    "GroupNormalization-21": lambda: case("GroupNormalization", {"x": f32(2, 6, 3, 3)}, ["y"], opset=21,
                                                 consts={"s": f32(6), "b": f32(6)}, num_groups=3),
    "LpNormalization-p1": lambda: case("LpNormalization", {"x": f32(4, 5)}, ["y"], opset=1, axis=0, p=1),
    "MeanVarianceNormalization": lambda: case("MeanVarianceNormalization", {"x": f32(2, 3, 4, 5)}, ["y"],
                                                     opset=13),
    # indexing
    "Gather-negative": lambda: case("Gather", {"x": f32(4, 5, 3)}, ["y"], opset=13,
                                           consts={"i": np.array([[0, -1], [2, 1]], np.int64)}, axis=1),
    "GatherElements": lambda: case("GatherElements", {"x": f32(3, 4)}, ["y"], opset=13,
                                          consts={"i": R.integers(-4, 4, (3, 6))}, axis=1),
    "GatherND-batch": lambda: case("GatherND", {"x": f32(2, 3, 4)}, ["y"], opset=13,
                                          consts={"i": np.array([[[1], [0]], [[2], [1]]], np.int64)},
                                          batch_dims=1),
    "ScatterND-add": lambda: case("ScatterND", {"x": f32(4, 3)}, ["y"], opset=16,
                                         consts={"i": np.array([[1], [1], [3]], np.int64), "u": f32(3, 3)},
                                         reduction="add"),
    "ScatterElements-max": lambda: case("ScatterElements", {"x": f32(3, 5)}, ["y"], opset=18,
                                               consts={"i": np.array([[0, 4, 4], [1, -1, 2]], np.int64),
                                                       "u": f32(2, 3)}, axis=1, reduction="max"),
    "OneHot": lambda: case("OneHot", {}, ["y"], opset=11, consts={
        "i": np.array([[1, -1], [0, 3]], np.int64), "d": np.array(4, np.int64),
        "v": np.array([-2.0, 5.0], np.float32)}, axis=1),
    # slicing and friends
    "Slice-10-negative-step": lambda: case("Slice", {"x": f32(6, 7)}, ["y"], opset=13, consts={
        "s": i64(-1, 1), "e": i64(-100, 2**62), "a": i64(0, 1), "st": i64(-2, 3)}),
    "Slice-1-attrs": lambda: case("Slice", {"x": f32(5, 6)}, ["y"], opset=1, starts=[1], ends=[-1],
                                         axes=[1]),
    "Split-18-uneven": lambda: case("Split", {"x": f32(7, 2)}, ["a", "b", "c"], opset=18, num_outputs=3),
    "Split-13-sizes": lambda: case("Split", {"x": f32(2, 9)}, ["a", "b"], opset=13,
                                          consts={"s": i64(4, 5)}, axis=1),
    "Split-11-attr": lambda: case("Split", {"x": f32(2, 6)}, ["a", "b"], opset=11, axis=1, split=[1, 5]),
    "Expand": lambda: case("Expand", {"x": f32(3, 1)}, ["y"], opset=13, consts={"s": i64(2, 1, 4)}),
    "Tile": lambda: case("Tile", {"x": f32(2, 3)}, ["y"], opset=13, consts={"r": i64(3, 2)}),
    "Pad-constant-crop": lambda: case("Pad", {"x": f32(3, 4)}, ["y"], opset=13, consts={
        "p": i64(1, -1, 2, 2), "v": np.array(1.5, np.float32)}),
    "Pad-reflect": lambda: case("Pad", {"x": f32(1, 2, 4, 5)}, ["y"], opset=13, consts={
        "p": i64(0, 0, 2, 3, 0, 0, 3, 1)}, mode="reflect"),
    "Pad-edge-2": lambda: case("Pad", {"x": f32(3, 4)}, ["y"], opset=2, pads=[2, 1, 0, 3], mode="edge"),
    "Pad-wrap-18-axes": lambda: case("Pad", {"x": f32(3, 4)}, ["y"], opset=19, consts={
        "p": i64(2, 5), "v": np.array(0, np.float32), "a": i64(-1)}, mode="wrap"),
    "Trilu-lower": lambda: case("Trilu", {"x": f32(2, 4, 5)}, ["y"], opset=14, consts={"k": np.array(-1)},
                                       upper=0),
    "DepthToSpace-CRD": lambda: case("DepthToSpace", {"x": f32(1, 8, 2, 3)}, ["y"], opset=13, blocksize=2,
                                            mode="CRD"),
    "SpaceToDepth": lambda: case("SpaceToDepth", {"x": f32(2, 2, 4, 6)}, ["y"], opset=13, blocksize=2),
    "Range-const": lambda: case("Range", {}, ["y"], opset=11, consts={
        "a": np.array(3, np.int64), "b": np.array(-9, np.int64), "c": np.array(-4, np.int64)}),
    # scans
    "CumSum-exclusive-reverse": lambda: case("CumSum", {"x": f32(3, 70)}, ["y"], opset=14,
                                                    consts={"a": np.array(1)}, exclusive=1, reverse=1),
    "CumSum-int": lambda: case("CumSum", {"x": R.integers(-9, 9, (5, 4)).astype(np.int32)}, ["y"], opset=14,
                                      consts={"a": np.array(0)}),
    "TopK-smallest": lambda: case("TopK", {"x": R.integers(0, 5, (3, 9)).astype(np.float32)}, ["v", "i"],
                                         opset=11, consts={"k": i64(4)}, largest=0),
    "TopK-1-attr": lambda: case("TopK", {"x": f32(4, 6)}, ["v", "i"], opset=1, k=2, axis=0),
    # resizing
    "Resize-linear": lambda: case("Resize", {"x": f32(1, 2, 4, 5)}, ["y"], opset=13, consts={
        "roi": np.zeros(0, np.float32), "s": np.array([1, 1, 1.5, 0.6], np.float32)}, mode="linear"),
    "Resize-cubic-align": lambda: case("Resize", {"x": f32(1, 1, 4, 4)}, ["y"], opset=13, consts={
        "roi": np.zeros(0, np.float32), "s": np.zeros(0, np.float32), "z": i64(1, 1, 7, 3)},
        mode="cubic", coordinate_transformation_mode="align_corners"),
    "Resize-nearest-sizes": lambda: case("Resize", {"x": f32(1, 1, 3, 4)}, ["y"], opset=11, consts={
        "roi": np.zeros(0, np.float32), "s": np.zeros(0, np.float32), "z": i64(1, 1, 7, 2)},
        mode="nearest", nearest_mode="round_prefer_ceil"),
    "Resize-18-antialias-cubic": lambda: case("Resize", {"x": f32(1, 2, 9, 8)}, ["y"], opset=18, consts={
        "roi": np.zeros(0, np.float32), "s": np.array([1, 1, 0.4, 0.7], np.float32)}, mode="cubic", antialias=1),
    "Resize-18-antialias-linear-sizes": lambda: case("Resize", {"x": f32(1, 1, 7, 10)}, ["y"], opset=18, consts={
        "roi": np.zeros(0, np.float32), "s": np.zeros(0, np.float32), "z": i64(1, 1, 3, 4)}, mode="linear",
        antialias=1),
    "Upsample-9": lambda: case("Upsample", {"x": f32(1, 1, 2, 3)}, ["y"], opset=9,
                                      consts={"s": np.array([1, 1, 2, 3], np.float32)}),
    "GridSample-bicubic-reflection": lambda: case("GridSample", {"x": f32(1, 2, 4, 5)}, ["y"], opset=16, consts={
        "g": (R.uniform(-1.4, 1.4, (1, 3, 6, 2))).astype(np.float32)}, mode="bicubic", padding_mode="reflection"),
    "GridSample-nearest-border-aligned": lambda: case("GridSample", {"x": f32(2, 1, 3, 3)}, ["y"], opset=16, consts={
        "g": (R.uniform(-1.3, 1.3, (2, 4, 2, 2))).astype(np.float32)}, mode="nearest", padding_mode="border",
        align_corners=1),
    "GridSample-20-linear-zeros": lambda: case("GridSample", {"x": f32(1, 3, 5, 4)}, ["y"], opset=20, consts={
        "g": (R.uniform(-1.2, 1.2, (1, 2, 7, 2))).astype(np.float32)}, mode="linear"),
    # contractions through other ops
    "Einsum-batch-matmul": lambda: case("Einsum", {"a": f32(2, 3, 4), "b": f32(2, 4, 5)}, ["y"], opset=12,
                                               equation="bij,bjk->bik"),
    "Einsum-transpose-sum": lambda: case("Einsum", {"a": f32(3, 4, 5)}, ["y"], opset=12,
                                                equation="ijk->ki"),
    "Einsum-ellipsis-outer": lambda: case("Einsum", {"a": f32(2, 3), "b": f32(4)}, ["y"], opset=12,
                                                 equation="...i,j->...ij"),
    "Einsum-diagonal-trace": lambda: case("Einsum", {"a": f32(4, 4)}, ["y"], opset=12, equation="ii"),
    "ConvTranspose-strided": lambda: case("ConvTranspose", {"x": f32(1, 4, 3, 4)}, ["y"], opset=11, consts={
        "w": f32(4, 3, 3, 2), "b": f32(6)}, strides=[2, 3], pads=[1, 0, 0, 1], output_padding=[1, 0], group=2),
    "ConvTranspose-output-shape": lambda: case("ConvTranspose", {"x": f32(1, 1, 3, 3)}, ["y"], opset=11,
                                                      consts={"w": f32(1, 2, 3, 3)}, strides=[3, 2],
                                                      output_shape=[10, 8]),
    "Conv-one-element-weight": lambda: case("Conv", {"x": f32(2, 1, 3, 4)}, ["y"], opset=11,
                                            consts={"w": f32(1, 1, 1, 1)}),
    "MatMul-one-element-operand": lambda: case("MatMul", {"a": f32(5, 1)}, ["y"], opset=13, consts={"b": f32(1, 1)}),
    "MatMul-1d": lambda: case("MatMul", {"a": f32(4), "b": f32(2, 4, 3)}, ["y"], opset=13),
    # recurrent layers, unrolled over the sequence
    "GRU-linear-before-reset": lambda: case("GRU", {"x": f32(4, 2, 3)}, ["y", "yh"], opset=14, consts={
        "w": f32(1, 15, 3), "r": f32(1, 15, 5), "b": f32(1, 30)}, hidden_size=5, linear_before_reset=1),
    "LSTM-bidirectional-peepholes": lambda: case("LSTM", {"x": f32(3, 2, 4)}, ["y", "yh", "yc"], opset=14, consts={
        "w": f32(2, 12, 4), "r": f32(2, 12, 3), "b": f32(2, 24), "sl": np.array([3, 3], np.int32),
        "h0": f32(2, 2, 3), "c0": f32(2, 2, 3), "p": f32(2, 9)}, hidden_size=3, direction="bidirectional"),
    "RNN-clip-relu": lambda: case("RNN", {"x": f32(5, 1, 2)}, ["y"], opset=14, consts={
        "w": f32(1, 4, 2), "r": f32(1, 4, 4)}, hidden_size=4, clip=0.8, activations=["Relu"]),
    "QuantizeLinear": lambda: case("QuantizeLinear", {"x": f32(3, 4) * 50}, ["y"], opset=13, consts={
        "s": np.array(0.7, np.float32), "z": np.array(3, np.uint8)}),
    "DequantizeLinear-axis": lambda: case("DequantizeLinear", {"x": R.integers(-128, 127, (2, 3)).astype(np.int8)},
                                                 ["y"], opset=13, consts={"s": np.array([0.5, 2, 1], np.float32),
                                                                          "z": np.array([1, -2, 0], np.int8)}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_onnxruntime(name):
    model, feeds = CASES[name]()
    check_against_onnxruntime(model, feeds)
