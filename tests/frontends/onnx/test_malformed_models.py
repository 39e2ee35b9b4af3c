"""Malformed models get one clear CortadoError that names the node or value at fault; models
with operators Cortado lacks get UnsupportedOpError listing all of them at once."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cortado
from cortado.errors import CortadoError, ModelFormatError, ModelLoadError, ShapeError, UnsupportedOpError
from cortado.frontends.onnx import import_onnx


def _model(nodes, inputs=(("x", [2, 3]),), outputs=("y",), inits=(), opset=13):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], list(inits))
    return helper.make_model(g, opset_imports=[helper.make_operatorsetid("", opset)])


def _relu_model():
    return _model([helper.make_node("Relu", ["x"], ["y"], name="relu")])


def test_truncated_bytes(tmp_path):
    data = _relu_model().SerializeToString()
    with pytest.raises(ModelLoadError, match="not a valid ONNX model|no ONNX graph"):
        cortado.compile(data[: len(data) // 2], target="interpreter")
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[:7])
    with pytest.raises(ModelLoadError) as e:
        cortado.compile(str(path), target="interpreter")
    assert "cut.onnx" in str(e.value)


def test_cycle_names_a_node():
    m = _model([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
                helper.make_node("Relu", ["a"], ["b"], name="second"),
                helper.make_node("Identity", ["a"], ["y"], name="out")])
    with pytest.raises(ModelFormatError, match="cycle through node '(first|second)'"):
        import_onnx(m)


def test_value_without_producer():
    m = _model([helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")])
    with pytest.raises(ModelFormatError) as e:
        import_onnx(m)
    assert "'ghost'" in str(e.value) and "'adder'" in str(e.value)


def test_value_produced_twice():
    m = _model([helper.make_node("Relu", ["x"], ["y"], name="one"),
                helper.make_node("Neg", ["x"], ["y"], name="two")])
    with pytest.raises(ModelFormatError, match="'y' is produced twice"):
        import_onnx(m)


def test_duplicate_graph_output_names():
    m = _model([helper.make_node("Relu", ["x"], ["y"], name="relu")], outputs=("y", "y"))
    with pytest.raises(ModelFormatError, match="graph output 'y' is listed 2 times"):
        import_onnx(m)


def test_negative_input_dim():
    m = _model([helper.make_node("Relu", ["x"], ["y"])], inputs=(("x", [2, -3]),))
    with pytest.raises(ShapeError, match="'x' has dim -3 at axis 1"):
        import_onnx(m)


def test_negative_initializer_dims():
    t = numpy_helper.from_array(np.zeros(6, np.float32), "w")
    del t.dims[:]
    t.dims.extend([-2, -3])
    m = _model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[t])
    with pytest.raises(ModelFormatError, match="initializer 'w' has negative dims"):
        import_onnx(m)


def test_output_never_produced():
    m = _model([helper.make_node("Relu", ["x"], ["z"])])
    with pytest.raises(ModelFormatError, match="graph output 'y'"):
        import_onnx(m)


def test_bad_shapes_name_the_node():
    m = _model([helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")],
               inits=[numpy_helper.from_array(np.zeros((4, 5), np.float32), "w")])
    with pytest.raises(ShapeError, match="'proj'"):
        import_onnx(m)


def test_every_unsupported_operator_reported_at_once():
    nodes = [helper.make_node("Bernoulli", ["x"], ["a"], name="coin"),
             helper.make_node("Relu", ["x"], ["b"], name="fine"),
             helper.make_node("RandomUniformLike", ["b"], ["c"], name="noise"),
             helper.make_node("MyOp", ["b"], ["d"], name="custom", domain="com.example"),
             helper.make_node("Cast", ["b"], ["e"], to=TensorProto.FLOAT8E4M3FN, name="f8"),
             helper.make_node("Sum", ["b", "b"], ["y"])]
    m = _model(nodes, outputs=("y", "a", "c", "d", "e"), opset=15)
    with pytest.raises(UnsupportedOpError) as e:
        cortado.compile(m, target="interpreter")
    ops = sorted(op for op, _, _ in e.value.items)
    assert ops == ["Bernoulli", "Cast", "RandomUniformLike", "com.example.MyOp"]
    why = {name: reason for _, name, reason in e.value.items}
    assert "FLOAT8E4M3FN" in why["f8"] and "custom domain" in why["custom"]


@pytest.mark.parametrize("kind", ["string", "float8", "sequence"])
def test_unsupported_input_types_are_unsupported_not_crashes(kind):
    if kind == "sequence":
        vi = helper.make_tensor_sequence_value_info("x", TensorProto.FLOAT, None)
        node = helper.make_node("SequenceLength", ["x"], ["y"])
    else:
        code = TensorProto.STRING if kind == "string" else TensorProto.FLOAT8E5M2
        vi = helper.make_tensor_value_info("x", code, [3])
        node = helper.make_node("Identity", ["x"], ["y"])
    g = helper.make_graph([node], "g", [vi], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 21)])
    with pytest.raises(UnsupportedOpError) as e:
        import_onnx(m)
    assert "'x'" in str(e.value)


def test_control_flow_on_tensor_data_imports_as_a_run_time_if():
    body = helper.make_graph([helper.make_node("Identity", ["x"], ["o"])], "b", [],
                             [helper.make_tensor_value_info("o", TensorProto.FLOAT, None)])
    node = helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=body, name="branch")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                                        helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 13)])
    graph = import_onnx(m)        # both branches become sub-graphs (tests/runtime/test_runtime_control_flow.py)
    assert [n.op.value for n in graph.nodes] == ["If"]


def test_all_user_errors_are_cortado_errors():
    for err in (ModelFormatError, ModelLoadError, ShapeError, UnsupportedOpError):
        assert issubclass(err, CortadoError)
