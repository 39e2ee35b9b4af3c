"""Models for the dynamic-shape tests, built with ``onnx.helper``.

* ``transformer_block``: an embedding-free pre-norm transformer block (LayerNormalization,
  MatMul QKV, multi-head attention with Softmax, residual, MLP with Gelu) whose batch and
  sequence length are both symbolic graph-input dims (``batch``, ``seq``).
* ``vit_cls_torchscript`` / ``vit_cls_dynamo``: ViT's ``cls_token.expand(B, -1, -1)`` followed by a
  concat with the patch tokens, written the way each PyTorch exporter writes it.
"""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from tests.onnx_builder import Builder

DIM, HEADS, FFN = 16, 2, 32


def transformer_block(seed: int = 0, x_dims=("batch", "seq", DIM)):
    """y = h + MLP(LN(h)), h = x + Attention(LN(x)); heads split by Reshape with 0 placeholders."""
    rng = np.random.default_rng(seed)
    b = Builder()

    def w(*shape, scale=0.3):
        return b.const(rng.normal(0, scale, shape), np.float32)

    def ln(t):
        return b("LayerNormalization", t, b.const(rng.uniform(0.8, 1.2, DIM), np.float32),
                 b.const(rng.normal(0, 0.1, DIM), np.float32), axis=-1, epsilon=1e-5)

    def heads(t):  # (B, S, D) -> (B, H, S, D/H)
        return b("Transpose", b("Reshape", t, b.const([0, 0, HEADS, DIM // HEADS])), perm=[0, 2, 1, 3])

    h0 = ln("x")
    q, k, v = (heads(b("Add", b("MatMul", h0, w(DIM, DIM)), w(DIM, scale=0.1))) for _ in range(3))
    scores = b("Mul", b("MatMul", q, b("Transpose", k, perm=[0, 1, 3, 2])),
               b.const(1.0 / np.sqrt(DIM // HEADS), np.float32))
    att = b("MatMul", b("Softmax", scores, axis=-1), v)
    merged = b("Reshape", b("Transpose", att, perm=[0, 2, 1, 3]), b.const([0, 0, DIM]))
    h = b("Add", "x", b("Add", b("MatMul", merged, w(DIM, DIM)), w(DIM, scale=0.1)))
    mlp = b("Gelu", b("Add", b("MatMul", ln(h), w(DIM, FFN)), w(FFN, scale=0.1)))
    y = b("Add", h, b("Add", b("MatMul", mlp, w(FFN, DIM)), w(DIM, scale=0.1)))
    return b.model([("x", list(x_dims))], y, list(x_dims))


def _patches_and_cls(b: Builder, rng):
    """The patch tokens (B, P, D) from x (B, P, D) and a learned (1, 1, D) cls token."""
    return b("Add", "x", b.const(rng.normal(0, 0.1, (DIM,)), np.float32)), \
        b.const(rng.normal(0, 1.0, (1, 1, DIM)), np.float32)


def vit_cls_torchscript(seed: int = 0, patches: int = 5, opset: int = 14):
    """``torch.onnx.export`` (TorchScript) of ``cat([cls.expand(B, -1, -1), x], 1)``: the target
    shape is ``Concat(Unsqueeze(Gather(Shape(x), 0)), -1, -1)`` and Expand gets
    ``Where(Equal(t, -1), ConstantOfShape(Shape(t)) * -1 ... , t)`` so -1 means "keep"."""
    rng = np.random.default_rng(seed)
    b = Builder()
    tokens, cls = _patches_and_cls(b, rng)
    n = b("Gather", b("Shape", "x"), b.const(0))
    target = b("Concat", b("Unsqueeze", n, b.const([0])), b.const([-1]), b.const([-1]), axis=0)
    ones = b("ConstantOfShape", b.const([3]), value=numpy_helper.from_array(np.array([1], np.int64)))
    minus = b("Mul", ones, b.const(-1))
    shape = b("Where", b("Equal", target, minus), ones, target)
    expanded = b("Expand", cls, shape)
    y = b("Concat", expanded, tokens, axis=1)
    return b.model([("x", ["batch", patches, DIM])], y, ["batch", patches + 1, DIM], opset=opset)


def vit_cls_dynamo(seed: int = 0, patches: int = 5, opset: int = 18):
    """The dynamo exporter's spelling: ``Concat(Slice(Shape(x), 0, 1), [1, D])`` straight into
    Expand (the -1s already resolved to the cls token's own sizes)."""
    rng = np.random.default_rng(seed)
    b = Builder()
    tokens, cls = _patches_and_cls(b, rng)
    shape = b("Shape", "x")
    lead = b("Slice", shape, b.const([0]), b.const([1]), b.const([0]))
    gathered = b("Unsqueeze", b("Gather", shape, b.const(0)), b.const([0]))
    target = b("Concat", b("Max", lead, gathered), b.const([1, DIM]), axis=0)
    y = b("Concat", b("Expand", cls, target), tokens, axis=1)
    return b.model([("x", ["batch", patches, DIM])], y, ["batch", patches + 1, DIM], opset=opset)
