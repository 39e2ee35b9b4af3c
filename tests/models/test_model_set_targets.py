"""Fusion targets on the model set: ResNet-50 and a BERT-base encoder layer (compile only, plus
one run of the encoder against onnxruntime)."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado.testing.models import light_model
from cortado.testing.reference import HOST_TARGETS, assert_close, run_onnxruntime
from examples.model_zoo import bert_encoder


def test_resnet50_at_o2_is_at_most_60_kernels_and_half_the_traffic():
    model = light_model("resnet50")
    o0 = cortado.compile(model, target="interpreter", opt_level=0).stats
    o2 = cortado.compile(model, target="interpreter", opt_level=2).stats
    assert o2["kernels"] <= 60, o2["kernels"]
    assert o2["est_hbm_bytes"] <= 0.5 * o0["est_hbm_bytes"], (o2["est_hbm_bytes"], o0["est_hbm_bytes"])


@pytest.mark.slow
@pytest.mark.parametrize("target", HOST_TARGETS)
def test_bert_base_encoder_layer_is_at_most_8_kernels_and_matches_onnxruntime(target):
    model = bert_encoder(1, seq=32)        # BERT-base shapes: hidden 768, 12 heads, FFN 3072
    m = cortado.compile(model, target=target)
    assert m.stats["kernels"] <= 8, [k["ops"] for k in m.stats["per_kernel"]]
    kinds = [k["kind"] for k in m.stats["per_kernel"]]
    assert "attention" in kinds
    rng = np.random.default_rng(0)
    feeds = {i["name"]: rng.standard_normal([d if isinstance(d, int) else 1 for d in i["shape"]]).astype(np.float32)
             for i in m.inputs}
    got = m.run(feeds)
    for name, ref in zip(m.output_names, run_onnxruntime(model, feeds)):
        assert_close(got[name], ref, what=name)
