"""A transformer encoder block written the way the two PyTorch ONNX exporters write it.

* TorchScript style (opset 14): head reshapes computed at run time from ``Shape -> Gather ->
  Unsqueeze -> Concat`` chains, LayerNorm spelled out as ReduceMean/Sub/Pow/Sqrt/Div, GELU as
  ``x * 0.5 * (1 + Erf(x / sqrt(2)))``, the attention scale from ``Shape -> Gather -> Cast -> Sqrt``.
* Dynamo style (opset 20): ``LayerNormalization`` and ``Gelu`` nodes, Reshape to constant
  shapes with ``0`` / ``-1`` placeholders, Transpose and MatMul.

The batch dim is symbolic (``batch``), so one compiled model serves every batch size.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from tests.onnx_builder import Builder

SEQ, DIM, HEADS, FFN = 8, 32, 4, 64


def _weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = {}
    for name in ("q", "k", "v", "o"):
        w[f"W{name}"] = rng.normal(0, 0.2, (DIM, DIM)).astype(np.float32)
        w[f"b{name}"] = rng.normal(0, 0.1, (DIM,)).astype(np.float32)
    w["W1"] = rng.normal(0, 0.2, (DIM, FFN)).astype(np.float32)
    w["b1"] = rng.normal(0, 0.1, (FFN,)).astype(np.float32)
    w["W2"] = rng.normal(0, 0.2, (FFN, DIM)).astype(np.float32)
    w["b2"] = rng.normal(0, 0.1, (DIM,)).astype(np.float32)
    for i in (1, 2):
        w[f"g{i}"] = rng.uniform(0.8, 1.2, (DIM,)).astype(np.float32)
        w[f"be{i}"] = rng.normal(0, 0.1, (DIM,)).astype(np.float32)
    return w


def _model(b: Builder, weights, x, y, opset):
    inits = b.inits + [numpy_helper.from_array(v, k) for k, v in weights.items()]
    graph = helper.make_graph(
        b.nodes + [helper.make_node("Identity", [y], ["out"])], "encoder",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", SEQ, DIM])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", SEQ, DIM])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", opset)])


def torchscript_encoder(seed: int = 0):
    """The TorchScript exporter's spelling (opset 14)."""
    w = _weights(seed)
    b = Builder()
    x = "x"
    dh = DIM // HEADS
    shape = b("Shape", x)
    n = b("Unsqueeze", b("Gather", shape, b.const(0)), b.const([0]))
    s = b("Unsqueeze", b("Gather", shape, b.const(1)), b.const([0]))
    heads_shape = b("Concat", n, s, b.const([HEADS]), b.const([dh]), axis=0)

    def heads(t):
        return b("Transpose", b("Reshape", t, heads_shape), perm=[0, 2, 1, 3])

    def linear(t, wname, bname):
        return b("Add", b("MatMul", t, wname), bname)

    q, k, v = (heads(linear(x, f"W{c}", f"b{c}")) for c in "qkv")
    # scale = sqrt(head dim) from the shape of q, as torch.nn.functional computes it
    dk = b("Cast", b("Gather", b("Shape", q), b.const(3)), to=TensorProto.FLOAT)
    scores = b("Div", b("MatMul", q, b("Transpose", k, perm=[0, 1, 3, 2])), b("Sqrt", dk))
    ctx = b("Transpose", b("MatMul", b("Softmax", scores, axis=-1), v), perm=[0, 2, 1, 3])
    merged = b("Reshape", ctx, b("Concat", n, s, b.const([DIM]), axis=0))
    h = b("Add", x, linear(merged, "Wo", "bo"))

    def layer_norm(t, g, be):
        mean = b("ReduceMean", t, axes=[-1])
        d = b("Sub", t, mean)
        var = b("ReduceMean", b("Pow", d, b.const(2.0, np.float32)), axes=[-1])
        return b("Add", b("Mul", b("Div", d, b("Sqrt", b("Add", var, b.const(1e-5, np.float32)))), g), be)

    h = layer_norm(h, "g1", "be1")
    f = linear(h, "W1", "b1")
    gelu = b("Mul", b("Mul", f, b("Add", b("Erf", b("Div", f, b.const(1.4142135, np.float32))),
                                   b.const(1.0, np.float32))), b.const(0.5, np.float32))
    out = layer_norm(b("Add", h, linear(gelu, "W2", "b2")), "g2", "be2")
    return _model(b, w, x, out, 14)


def dynamo_encoder(seed: int = 0):
    """The dynamo exporter's spelling (opset 20): LayerNormalization, Gelu, constant reshapes."""
    w = _weights(seed)
    b = Builder()
    x = "x"
    dh = DIM // HEADS

    def linear(t, wname, bname):
        return b("Add", b("MatMul", t, wname), bname)

    def heads(t):
        return b("Transpose", b("Reshape", t, b.const([0, 0, HEADS, dh])), perm=[0, 2, 1, 3])

    q, k, v = (heads(linear(x, f"W{c}", f"b{c}")) for c in "qkv")
    scores = b("Mul", b("MatMul", q, b("Transpose", k, perm=[0, 1, 3, 2])), b.const(1.0 / np.sqrt(dh), np.float32))
    ctx = b("Transpose", b("MatMul", b("Softmax", scores, axis=-1), v), perm=[0, 2, 1, 3])
    merged = b("Reshape", ctx, b.const([-1, SEQ, DIM]))
    h = b("LayerNormalization", b("Add", x, linear(merged, "Wo", "bo")), "g1", "be1", axis=-1, epsilon=1e-5)
    f = b("Gelu", linear(h, "W1", "b1"), approximate="none")
    out = b("LayerNormalization", b("Add", h, linear(f, "W2", "b2")), "g2", "be2", axis=-1, epsilon=1e-5)
    return _model(b, w, x, out, 20)
