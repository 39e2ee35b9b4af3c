"""A transformer encoder block in both PyTorch exporter styles (see ``encoder_models``),
compiled once with a symbolic batch and checked against onnxruntime at batch 1 and 3."""

from __future__ import annotations

import numpy as np
import pytest
from encoder_models import DIM, SEQ, dynamo_encoder, torchscript_encoder

import cortado
from cortado.ir import Op
from cortado.testing.reference import HOST_TARGETS, assert_close, run_onnxruntime


@pytest.mark.slow
@pytest.mark.parametrize("target", HOST_TARGETS)
@pytest.mark.parametrize("build", [torchscript_encoder, dynamo_encoder], ids=["torchscript", "dynamo"])
def test_encoder_matches_onnxruntime_for_two_batch_sizes_from_one_compile(build, target):
    model = build(seed=3)
    m = cortado.compile(model, target=target, opt_level=0)
    assert m.inputs[0]["shape"] == ["batch", SEQ, DIM]
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, SEQ, DIM)).astype(np.float32)
        got = m.run({"x": x})["out"]
        ref = run_onnxruntime(model, {"x": x})[0]
        assert got.shape == (batch, SEQ, DIM)
        assert_close(got, ref, what=f"{build.__name__} batch {batch}")
        assert np.std(ref) > 0.1


def test_torchscript_shape_chains_become_static_attributes():
    g = cortado.compile(torchscript_encoder(), target="interpreter", opt_level=0).graph
    reshapes = [n for n in g.nodes if n.op is Op.RESHAPE]
    assert reshapes and all(str(n.attrs.shape[0]) == "batch" for n in reshapes)
    assert not any(n.op is Op.SHAPE for n in g.nodes), "the shape chain should not need a kernel"


def test_dynamo_style_keeps_layer_norm_and_gelu_ops():
    g = cortado.compile(dynamo_encoder(), target="interpreter", opt_level=0).graph
    ops = {n.op for n in g.nodes}
    assert Op.LAYER_NORMALIZATION in ops and Op.GELU in ops
