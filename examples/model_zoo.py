"""Model-set architectures written with ``onnx.helper``: a MobileNetV2-style CNN and a
BERT-base-shaped transformer encoder layer, with seeded random weights.

They complete the nine ONNX light CNNs in the benchmarks and tests with the two shapes of
network those lack: depthwise-separable inverted residuals (MobileNetV2) and attention with
layer norm and GELU (BERT). Weights are scaled so activations stay well inside float16's
range, as trained weights do: He-initialized convolutions, batch norms whose statistics are
near the identity, and ReLU6 (``Clip(0, 6)``) bounding every expanded activation.

    python -m examples.model_zoo [OUT_DIR]     writes mobilenet_v2.onnx and bert_encoder.onnx
                                               (into the current folder by default)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17   # LayerNormalization is an ONNX op from opset 17

# MobileNetV2 (Sandler et al. 2018, table 2): expansion t, output channels c, repeats n, stride s
MOBILENET_V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1))


class _Builder:
    """Nodes, initializers and fresh names for one model."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count: dict[str, int] = {}

    def name(self, base: str) -> str:
        n = self.count.get(base, 0)
        self.count[base] = n + 1
        return f"{base}{n}"

    def const(self, array, base: str) -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs, base: str | None = None, **attrs) -> str:
        out = self.name(base or op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=f"{out}_node", **attrs))
        return out

    def normal(self, shape, std: float):
        return self.rng.standard_normal(shape) * std


def _make_divisible(v: float, divisor: int = 8) -> int:
    """Channel counts rounded to a multiple of 8, never below 90% of the request (as MobileNetV2)."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _conv_bn(b: _Builder, x: str, cin: int, cout: int, k: int, stride: int, groups: int, relu6: bool) -> str:
    fan_in = cin // groups * k * k
    # He init before ReLU6, LeCun init before the linear projections: activations keep their scale
    w = b.const(b.normal((cout, cin // groups, k, k), np.sqrt((2.0 if relu6 else 1.0) / fan_in)), "w")
    y = b.node("Conv", [x, w], "conv", kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4,
               group=groups)
    bn = [b.const(b.rng.uniform(0.8, 1.2, cout), "gamma"), b.const(b.normal(cout, 0.1), "beta"),
          b.const(b.normal(cout, 0.1), "mean"), b.const(b.rng.uniform(0.5, 1.5, cout), "var")]
    y = b.node("BatchNormalization", [y] + bn, "bn", epsilon=1e-5)
    if relu6:
        zero, six = b.const(np.float32(0.0), "zero"), b.const(np.float32(6.0), "six")
        y = b.node("Clip", [y, zero, six], "relu6")
    return y


def mobilenet_v2(batch: int | str = 1, resolution: int = 224, width: float = 1.0, num_classes: int = 1000,
                 seed: int = 0) -> onnx.ModelProto:
    """MobileNetV2: conv 3x3/2, 17 inverted residual blocks (1x1 expand, ReLU6, 3x3 depthwise,
    ReLU6, 1x1 linear projection, residual add when shapes allow), conv 1x1 to 1280, global
    average pool, classifier. Input ``image`` [batch, 3, resolution, resolution], output
    ``logits`` [batch, num_classes]; ``batch`` may be a name ("N") for a symbolic batch."""
    b = _Builder(seed)
    cin = _make_divisible(32 * width)
    x = _conv_bn(b, "image", 3, cin, 3, 2, 1, relu6=True)
    for t, c, n, s in MOBILENET_V2_BLOCKS:
        cout = _make_divisible(c * width)
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = x if t == 1 else _conv_bn(b, x, cin, hidden, 1, 1, 1, relu6=True)
            y = _conv_bn(b, y, hidden, hidden, 3, stride, hidden, relu6=True)
            y = _conv_bn(b, y, hidden, cout, 1, 1, 1, relu6=False)
            x = b.node("Add", [x, y], "residual") if stride == 1 and cin == cout else y
            cin = cout
    last = _make_divisible(1280 * max(1.0, width))
    x = _conv_bn(b, x, cin, last, 1, 1, 1, relu6=True)
    x = b.node("GlobalAveragePool", [x], "pool")
    x = b.node("Flatten", [x], "flatten", axis=1)
    fc_w = b.const(b.normal((num_classes, last), np.sqrt(1.0 / last)), "fc_w")
    fc_b = b.const(b.normal(num_classes, 0.01), "fc_b")
    b.nodes.append(helper.make_node("Gemm", [x, fc_w, fc_b], ["logits"], name="classifier", transB=1))
    graph = helper.make_graph(
        b.nodes, "mobilenet_v2",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, resolution, resolution])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, num_classes])],
        initializer=b.inits)
    return _finish(graph)


def bert_encoder(batch: int | str = 1, seq: int = 128, hidden: int = 768, heads: int = 12, ffn: int = 3072,
                 seed: int = 0) -> onnx.ModelProto:
    """One BERT-base encoder layer in the form PyTorch exports it: Q/K/V projections (MatMul +
    Add), heads split by Reshape/Transpose, scores scaled by 1/sqrt(d), an additive attention
    mask, Softmax, context MatMul, output projection, residual + LayerNormalization, then the
    feed-forward block with GELU in its Erf form, residual + LayerNormalization.

    Inputs ``hidden_states`` [batch, seq, hidden] and ``attention_mask`` [batch, 1, 1, seq]
    (0 to attend, a large negative number to mask); output ``output`` [batch, seq, hidden]."""
    if hidden % heads:
        raise ValueError(f"hidden {hidden} is not a multiple of heads {heads}")
    d = hidden // heads
    b = _Builder(seed)
    x = "hidden_states"

    def linear(inp: str, fan_in: int, fan_out: int, base: str) -> str:
        w = b.const(b.normal((fan_in, fan_out), np.sqrt(1.0 / fan_in)), f"{base}_w")
        bias = b.const(b.normal(fan_out, 0.02), f"{base}_b")
        return b.node("Add", [b.node("MatMul", [inp, w], f"{base}_mm"), bias], base)

    def layer_norm(inp: str, base: str) -> str:
        gamma = b.const(b.rng.uniform(0.8, 1.2, hidden), f"{base}_gamma")
        beta = b.const(b.normal(hidden, 0.02), f"{base}_beta")
        return b.node("LayerNormalization", [inp, gamma, beta], base, axis=-1, epsilon=1e-12)

    def shape(*dims) -> str:
        name = b.name("shape")
        b.inits.append(numpy_helper.from_array(np.asarray(dims, dtype=np.int64), name))
        return name

    split = shape(0, 0, heads, d)     # 0 copies batch and seq from the input (ONNX Reshape)
    q = b.node("Transpose", [b.node("Reshape", [linear(x, hidden, hidden, "query"), split])], "q", perm=[0, 2, 1, 3])
    k = b.node("Transpose", [b.node("Reshape", [linear(x, hidden, hidden, "key"), split])], "k", perm=[0, 2, 3, 1])
    v = b.node("Transpose", [b.node("Reshape", [linear(x, hidden, hidden, "value"), split])], "v", perm=[0, 2, 1, 3])
    scores = b.node("Div", [b.node("MatMul", [q, k], "qk"), b.const(np.float32(np.sqrt(d)), "sqrt_d")], "scores")
    scores = b.node("Add", [scores, "attention_mask"], "masked")
    probs = b.node("Softmax", [scores], "probs", axis=-1)
    ctx = b.node("Transpose", [b.node("MatMul", [probs, v], "ctx")], "ctx_t", perm=[0, 2, 1, 3])
    ctx = b.node("Reshape", [ctx, shape(0, 0, hidden)], "ctx_flat")
    h = layer_norm(b.node("Add", [linear(ctx, hidden, hidden, "attn_out"), x], "attn_res"), "ln_attn")
    f = linear(h, hidden, ffn, "ffn_in")
    erf = b.node("Erf", [b.node("Div", [f, b.const(np.float32(np.sqrt(2.0)), "sqrt2")], "gelu_div")], "gelu_erf")
    one, half = b.const(np.float32(1.0), "one"), b.const(np.float32(0.5), "half")
    gelu = b.node("Mul", [b.node("Mul", [f, b.node("Add", [erf, one], "gelu_add")], "gelu_mul"), half], "gelu")
    out = b.node("Add", [linear(gelu, ffn, hidden, "ffn_out"), h], "ffn_res")
    b.nodes.append(helper.make_node("LayerNormalization", [out, b.const(b.rng.uniform(0.8, 1.2, hidden), "ln_out_gamma"),
                                                           b.const(b.normal(hidden, 0.02), "ln_out_beta")],
                                    ["output"], name="ln_out", axis=-1, epsilon=1e-12))
    graph = helper.make_graph(
        b.nodes, "bert_encoder",
        [helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT, [batch, seq, hidden]),
         helper.make_tensor_value_info("attention_mask", TensorProto.FLOAT, [batch, 1, 1, seq])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, seq, hidden])],
        initializer=b.inits)
    return _finish(graph)


def bert_inputs(model: onnx.ModelProto, batch: int = 1, seed: int = 0, masked: int = 8) -> dict[str, np.ndarray]:
    """Random hidden states and a mask hiding the last ``masked`` positions of every sequence."""
    seq = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    hidden = model.graph.input[0].type.tensor_type.shape.dim[2].dim_value
    rng = np.random.default_rng(seed)
    mask = np.zeros((batch, 1, 1, seq), np.float32)
    mask[..., seq - min(masked, seq - 1):] = -10000.0
    return {"hidden_states": rng.standard_normal((batch, seq, hidden)).astype(np.float32), "attention_mask": mask}


def _finish(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cortado-examples")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


MODELS = {"mobilenet_v2": mobilenet_v2, "bert_encoder": bert_encoder}


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path(".")
    out.mkdir(parents=True, exist_ok=True)
    for name, build in MODELS.items():
        path = out / f"{name}.onnx"
        onnx.save(build(), path)
        print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
