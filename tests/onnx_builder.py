"""A small builder for hand-written ONNX test models, shared by the test folders that spell
models out node by node (the dynamic-shape models, the exporter-style transformer encoders).

    b = Builder()
    y = b("Relu", b("MatMul", "x", b.const(w, np.float32)))
    model = b.model([("x", ["batch", 4])], y, ["batch", 8])

Names are fresh per builder (``matmul_1``, ``c2``); ``const`` defaults to int64, the type of
shape and index operands.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper


class Builder:
    """Appends nodes with fresh output names; ``const`` adds an initializer."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, value, dtype=np.int64):
        self.n += 1
        name = f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def __call__(self, op, *inputs, **attrs):
        self.n += 1
        out = f"{op.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=f"{op}_{self.n}", **attrs))
        return out

    def model(self, inputs, y, out_shape, opset=20):
        graph = helper.make_graph(
            self.nodes + [helper.make_node("Identity", [y], ["y"])], "m",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", opset)])
