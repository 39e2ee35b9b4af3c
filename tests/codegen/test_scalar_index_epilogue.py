"""A one-element index tensor read inside a fused epilogue (an embedding row added to a
MatMul, as a greedy decoder's step does) is a scalar load; its bounds check must combine with
the tile's mask as a boolean, or Triton's interpreter rejects the mask."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto
from onnx import helper as h
from onnx import numpy_helper as nh

import cortado
from cortado.testing.reference import assert_close, run_onnxruntime


def _decoder_step(rows: int, width: int):
    rng = np.random.default_rng(0)
    weights = [nh.from_array(rng.standard_normal((width, width)).astype(np.float32), "W"),
               nh.from_array(rng.standard_normal((5, width)).astype(np.float32), "E")]
    nodes = [h.make_node("MatMul", ["h", "W"], ["m"]), h.make_node("Gather", ["E", "tok"], ["e"]),
             h.make_node("Add", ["m", "e"], ["s"]), h.make_node("Tanh", ["s"], ["y"])]
    graph = h.make_graph(nodes, "step", [h.make_tensor_value_info("h", TensorProto.FLOAT, [rows, width]),
                                         h.make_tensor_value_info("tok", TensorProto.INT64, [1])],
                         [h.make_tensor_value_info("y", TensorProto.FLOAT, [rows, width])], weights)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


@pytest.mark.parametrize("rows,width", [(1, 8), (3, 16)])
@pytest.mark.parametrize("token", [3, -1])
def test_gather_of_one_token_fused_after_a_matmul(rows, width, token):
    model = _decoder_step(rows, width)
    m = cortado.compile(model, target="interpreter", opt_level=2)
    assert len(m.plan["steps"]) == 1            # the gather really is fused into the GEMM's epilogue
    feeds = {"h": np.random.default_rng(1).standard_normal((rows, width)).astype(np.float32),
             "tok": np.array([token], np.int64)}
    assert_close(m.run(feeds)["y"], run_onnxruntime(model, feeds)[0])
