"""Symbolic dims survive import: one compiled model serves every batch size. Shape chains
resolve to attributes; a Shape or Size whose value is needed as data becomes a kernel that
reads the runtime sizes."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import cortado
from cortado.ir import Op
from cortado.testing.reference import assert_close, run_onnxruntime


def _model(nodes, inits, out_type=TensorProto.FLOAT, opset=14, x_shape=("N", 3, 4)):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                          [helper.make_tensor_value_info("y", out_type, None)],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_operatorsetid("", opset)])


def _check(model, batches=(1, 3), shape=(3, 4)):
    m = cortado.compile(model, target="interpreter", opt_level=0)
    for n in batches:
        x = np.random.default_rng(n).standard_normal((n,) + tuple(shape)).astype(np.float32)
        got = m.run({"x": x})["y"]
        exp = run_onnxruntime(model, {"x": x})[0]
        assert got.shape == exp.shape
        assert_close(got, exp, exp.dtype.name, what=f"batch {n}")
    return m


def test_shape_gather_concat_reshape_keeps_the_batch_symbolic():
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"]),
             helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    m = _check(_model(nodes, {"zero": np.array(0, np.int64), "ax": np.array([0], np.int64),
                              "minus1": np.array([-1], np.int64)}))
    reshape = [n for n in m.graph.nodes if n.op is Op.RESHAPE][-1]
    assert str(reshape.attrs.shape[0]) == "N" and reshape.attrs.shape[1] == 12


def test_shape_as_data_runs_a_kernel():
    # y = x / size(x)  +  x * shape(x)[0]: both need the runtime sizes as numbers
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"]),
             helper.make_node("Cast", ["n"], ["nf"], to=TensorProto.FLOAT),
             helper.make_node("Size", ["x"], ["sz"]),
             helper.make_node("Cast", ["sz"], ["szf"], to=TensorProto.FLOAT),
             helper.make_node("Div", ["x", "szf"], ["a"]),
             helper.make_node("Mul", ["x", "nf"], ["b"]),
             helper.make_node("Add", ["a", "b"], ["y"])]
    m = _check(_model(nodes, {"zero": np.array(0, np.int64)}), batches=(2, 5))
    assert any(n.op in (Op.SHAPE, Op.SIZE) for n in m.graph.nodes)


def test_shape_output_itself():
    nodes = [helper.make_node("Shape", ["x"], ["y"], start=0, end=-1)]
    _check(_model(nodes, {}, out_type=TensorProto.INT64, opset=15), batches=(2, 7))


def test_slice_to_the_end_and_range_over_a_symbolic_dim():
    nodes = [helper.make_node("Slice", ["x", "st", "en", "ax"], ["sl"]),
             helper.make_node("Shape", ["sl"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"]),
             helper.make_node("Range", ["zero", "n", "one"], ["r"]),
             helper.make_node("Cast", ["r"], ["rf"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["rf", "axes12"], ["r3"]),
             helper.make_node("Add", ["sl", "r3"], ["y"])]
    inits = {"st": np.array([1], np.int64), "en": np.array([2**62], np.int64), "ax": np.array([0], np.int64),
             "zero": np.array(0, np.int64), "one": np.array(1, np.int64), "axes12": np.array([1, 2], np.int64)}
    _check(_model(nodes, inits), batches=(2, 4))


def test_expand_and_constant_of_shape_follow_the_batch():
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("ConstantOfShape", ["s"], ["ones"],
                              value=numpy_helper.from_array(np.array([2.0], np.float32))),
             helper.make_node("Expand", ["b", "s"], ["be"]),
             helper.make_node("Mul", ["x", "ones"], ["t"]),
             helper.make_node("Add", ["t", "be"], ["y"])]
    _check(_model(nodes, {"b": np.arange(4, dtype=np.float32)}), batches=(1, 3))


@pytest.mark.parametrize("batch", [1, 3])
def test_one_compile_serves_every_batch(batch):
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[-1]),
             helper.make_node("Sub", ["x", "m"], ["y"])]
    model = _model(nodes, {}, opset=13)
    m = cortado.compile(model, target="interpreter", opt_level=0)
    assert m.inputs[0]["shape"][0] == "N"
    x = np.random.default_rng(0).standard_normal((batch, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(m(x), x - x.mean(-1, keepdims=True), rtol=1e-5, atol=1e-6)
