"""Model-set architectures, fused (O2) and unfused (O0), in float32, float16 and bfloat16,
against onnxruntime's float32 run on the same inputs and weights.

Fused and unfused in both half types: SqueezeNet (random weights, ends in a global pool) on
64x64 images, MobileNetV2 at 64x64 and width 0.5, and the BERT-base encoder layer (full hidden
size, heads and FFN) on 16 tokens. Fused only, at full size: all nine light architectures in
one half type each (float16 and bfloat16 alternate), bfloat16 where random-weight
activations pass float16's range (65504): ResNet-50's reach 1.4e5 and ShuffleNet's overflow
too (trained weights would be float16 cases).
"""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado.testing.models import LIGHT_MODELS, graph_inputs, light_model, with_input_shape
from cortado.testing.reference import assert_close, assert_close_to_scale, run_onnxruntime
from examples.model_zoo import bert_encoder, bert_inputs, mobilenet_v2


def _squeezenet():
    model = with_input_shape(light_model("squeezenet", seed=0), (1, 3, 64, 64))
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32)
    return model, {graph_inputs(model)[0].name: x}


def _mobilenet_v2():
    model = mobilenet_v2(resolution=64, width=0.5, seed=0)
    return model, {"image": np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32)}


def _bert_encoder():
    model = bert_encoder(seq=16, seed=0)
    return model, bert_inputs(model, seed=1, masked=3)


MODELS = {"squeezenet": _squeezenet, "mobilenet_v2": _mobilenet_v2, "bert_encoder": _bert_encoder}


def _compile(model, **kwargs):
    return cortado.compile(model, target="interpreter", **kwargs)


def _run_levels(name, dtype, levels=(0, 2)):
    model, feeds = MODELS[name]()
    expected = run_onnxruntime(model, feeds)
    results = {}
    for level in levels:
        m = _compile(model, dtype=dtype, opt_level=level)
        got = m.run(feeds)
        results[level] = [got[o] for o in m.output_names]
        assert all(r.dtype == np.float32 for r in results[level]), "float32 in, float32 out at every dtype"
    return model, expected, results


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v2", "bert_encoder"])
def test_float32_fused_and_unfused_match_onnxruntime(name):
    _, expected, results = _run_levels(name, "float32")
    for level, outs in results.items():
        for got, ref in zip(outs, expected):
            assert_close(got, ref, what=f"{name} O{level}")
    for fused, unfused in zip(results[2], results[0]):
        assert_close(fused, unfused, what=f"{name} O2 vs O0")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", list(MODELS))
def test_half_fused_and_unfused_match_onnxruntime(name, dtype):
    """Each level against float32 onnxruntime, and O2 against O0: both round every stored
    tensor to ``dtype`` (fusion stores fewer, so they differ by rounding only). MobileNetV2
    in bfloat16 runs fused only (its 153 unfused kernels cost 5 s more)."""
    levels = (2,) if (name, dtype) == ("mobilenet_v2", "bfloat16") else (0, 2)
    _, expected, results = _run_levels(name, dtype, levels)
    for level, outs in results.items():
        for i, (got, ref) in enumerate(zip(outs, expected)):
            assert_close_to_scale(got, ref, dtype, what=f"{name} {dtype} O{level} output {i}")
    for fused, unfused in zip(results[2], results.get(0, ())):
        assert_close_to_scale(fused, unfused, dtype, what=f"{name} {dtype} O2 vs O0")


# random-weight activations past float16's largest value (65504): bfloat16 only
FLOAT16_OVERFLOWS = {"resnet50", "shufflenet"}
# one half type per architecture (both across the set), for the suite's time budget
HALF_TYPE = {name: "bfloat16" if name in FLOAT16_OVERFLOWS or i % 2 else "float16"
             for i, name in enumerate(LIGHT_MODELS)}


@pytest.mark.slow
@pytest.mark.parametrize("name,dtype", sorted(HALF_TYPE.items()))
def test_half_light_models_fused_match_onnxruntime(name, dtype):
    model = light_model(name, seed=0)
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    m = _compile(model, dtype=dtype, opt_level=2)
    got = m.run({m.input_names[0]: x})
    expected = run_onnxruntime(model, {m.input_names[0]: x})
    outs = [got[o] for o in m.output_names]
    assert all(o.dtype == np.float32 for o in outs)
    assert_close_to_scale(outs[-1], expected[-1], dtype, what=f"{name} {dtype} O2 logits")
    if len(outs) == 1:
        return          # DenseNet-121 ends at its logits
    (probs, logits), (ref_probs, ref_logits) = outs, expected
    # softmax moves each probability by at most 2 * max|logit error| * p: rounding the logits
    # to half moves saturated probabilities by more than a fixed share of their scale
    bound = 2 * np.abs(logits - ref_logits).max() * ref_probs + 1e-6
    worst = np.abs(probs - ref_probs) - bound
    assert worst.max() <= 0, f"{name} {dtype}: a probability is off by {worst.max():.3g} more than the bound"
