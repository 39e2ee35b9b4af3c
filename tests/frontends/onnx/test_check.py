"""``cortado.check``: the per-node table behind ``cortado check MODEL``."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cortado.check import check_model, format_check, summarize
from cortado.errors import ModelFormatError, ModelLoadError


def _model():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu"),
             helper.make_node("Multinomial", ["a"], ["b"], name="nz", dtype=TensorProto.INT64),   # a random op
             helper.make_node("Cast", ["b"], ["c"], to=TensorProto.FLOAT, name="after_nz"),
             helper.make_node("Add", ["a", "w"], ["d"], name="add"),
             helper.make_node("Cast", ["d"], ["e"], to=TensorProto.FLOAT8E4M3FN, name="to_f8"),
             helper.make_node("Reshape", ["d", "shape"], ["f"], name="dyn_reshape")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                                       helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("c", "f")]
                          + [helper.make_tensor_value_info("e", TensorProto.FLOAT8E4M3FN, None)],
                          [numpy_helper.from_array(np.ones((2, 3), np.float32), "w")])
    return helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 17)])


def test_rows_give_op_opset_dtype_and_status(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_model(), str(path))
    rows = check_model(str(path))
    by = {r.node: r for r in rows}
    assert [r.node for r in rows] == ["relu", "nz", "after_nz", "add", "to_f8", "dyn_reshape"]
    assert by["relu"].status == "supported" and by["relu"].opset == 17 and by["relu"].dtype == "float32"
    assert by["nz"].status == "unsupported" and "no importer" in by["nz"].reason
    assert by["after_nz"].status == "blocked" and "Multinomial" in by["after_nz"].reason
    assert by["after_nz"].dtype == "int64"
    assert by["to_f8"].status == "unsupported" and "FLOAT8E4M3FN" in by["to_f8"].reason
    assert by["dyn_reshape"].status == "unsupported" and "'shape' depends on tensor data" in by["dyn_reshape"].reason
    assert by["add"].ok


def test_format_lists_every_node_and_a_summary():
    rows = check_model(_model())
    text = format_check(rows)
    for name in ("relu", "nz", "after_nz", "add", "to_f8", "dyn_reshape"):
        assert name in text
    assert text.strip().endswith(summarize(rows))
    assert summarize(rows).startswith("2 of 6 nodes supported; unsupported operators: Cast, Multinomial, Reshape")
    assert "relu" not in format_check(rows, only_problems=True)


def test_fully_supported_model():
    nodes = [helper.make_node("Softmax", ["x"], ["y"], axis=-1)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)])
    rows = check_model(helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 13)]))
    assert [(r.op, r.status, r.dtype) for r in rows] == [("Softmax", "supported", "float16")]


def test_malformed_models_raise_like_compile(tmp_path):
    with pytest.raises(ModelLoadError):
        check_model(tmp_path / "missing.onnx")
    bad = _model()
    bad.graph.node[0].input[0] = "nowhere"
    with pytest.raises(ModelFormatError, match="'nowhere'"):
        check_model(bad)
