"""Small ONNX model builders and an onnxruntime comparison shared by the frontend tests."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

import cortado
from cortado.ops import evaluate
from cortado.frontends.onnx import import_onnx
from cortado.testing.reference import assert_close, run_onnxruntime

_NP_TO_ONNX = {np.dtype(k): v for k, v in [
    (np.float32, onnx.TensorProto.FLOAT), (np.float16, onnx.TensorProto.FLOAT16),
    (np.float64, onnx.TensorProto.DOUBLE), (np.int64, onnx.TensorProto.INT64),
    (np.int32, onnx.TensorProto.INT32), (np.int8, onnx.TensorProto.INT8), (np.uint8, onnx.TensorProto.UINT8),
    (np.bool_, onnx.TensorProto.BOOL)]}


def node_model(op: str, inputs: dict, outputs, *, opset: int, consts: dict | None = None,
               output_shapes: dict | None = None, **attrs) -> onnx.ModelProto:
    """A one-node model: ``inputs`` name -> array (graph inputs), ``consts`` name -> array
    (initializers; the node reads them in the order given), ``outputs`` names."""
    consts = consts or {}
    names = list(inputs) + list(consts)
    order = attrs.pop("input_order", names)
    node = helper.make_node(op, order, list(outputs), **attrs)
    g = helper.make_graph(
        [node], op.lower(),
        [helper.make_tensor_value_info(k, _NP_TO_ONNX[np.asarray(v).dtype], np.asarray(v).shape) for k, v in inputs.items()],
        [helper.make_empty_tensor_value_info(o) for o in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()])
    model = helper.make_model(g, opset_imports=[helper.make_operatorsetid("", opset)])
    # onnxruntime wants typed outputs: take them from onnx's shape inference
    inferred = onnx.shape_inference.infer_shapes(model)
    typed = {vi.name: vi for vi in list(inferred.graph.output) + list(inferred.graph.value_info)}
    for vi in model.graph.output:
        if vi.name in typed and typed[vi.name].type.HasField("tensor_type"):
            vi.type.CopyFrom(typed[vi.name].type)
    return model


def check_against_onnxruntime(model: onnx.ModelProto, feeds: dict, *, opt_level: int = 0, reference: bool = True,
                              expected=None):
    """Compile for the interpreter, run, and compare every output with onnxruntime (or
    ``expected``); with ``reference`` also the IR's numpy reference evaluator."""
    if expected is None:
        expected = run_onnxruntime(model, feeds)
    m = cortado.compile(model, target="interpreter", opt_level=opt_level)
    got = m.run({k: v for k, v in feeds.items() if k in m.input_names})
    names = [o.name for o in model.graph.output]
    for name, exp in zip(names, expected):
        exp = np.asarray(exp)
        assert got[name].dtype == exp.dtype, f"{name}: dtype {got[name].dtype} != {exp.dtype}"
        assert_close(got[name], exp, exp.dtype.name, what=f"{name} (kernels)")
    if reference:
        graph = import_onnx(model)
        ref = evaluate(graph, {k: v for k, v in feeds.items() if k in {v.name for v in graph.inputs}})
        for name, exp in zip(names, expected):
            assert_close(ref[name], np.asarray(exp), np.asarray(exp).dtype.name, what=f"{name} (reference)")
    return m
