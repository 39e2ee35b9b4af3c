"""The model-set builders in examples/model_zoo.py: valid ONNX of the intended shape that
onnxruntime runs, with activations in float16's range, and the command that writes them."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx

from cortado.testing.reference import run_onnxruntime
from examples import model_zoo


def test_mobilenet_v2_structure_and_outputs():
    model = model_zoo.mobilenet_v2()
    ops = Counter(n.op_type for n in model.graph.node)
    depthwise = [n for n in model.graph.node if n.op_type == "Conv" and
                 next(a.i for a in n.attribute if a.name == "group") > 1]
    assert len(depthwise) == 17, "one depthwise conv per inverted residual block"
    assert ops["Add"] == 10, "residual adds where stride is 1 and channels match"
    assert ops["Clip"] == 35 and ops["BatchNormalization"] == ops["Conv"] == 52
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    (logits,) = run_onnxruntime(model_zoo.mobilenet_v2(batch=2), {"image": x})
    assert logits.shape == (2, 1000) and np.all(np.isfinite(logits))
    assert 0.1 < logits.std() and np.abs(logits).max() < 100, "activations stay far inside float16's range"


def test_bert_encoder_structure_and_outputs():
    model = model_zoo.bert_encoder(batch="N", seq=32)
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops["MatMul"] == 8 and ops["LayerNormalization"] == 2 and ops["Softmax"] == 1 and ops["Erf"] == 1
    feeds = model_zoo.bert_inputs(model_zoo.bert_encoder(seq=32), batch=3, seed=1, masked=5)
    assert feeds["attention_mask"].shape == (3, 1, 1, 32) and (feeds["attention_mask"] < 0).sum() == 15
    (out,) = run_onnxruntime(model, feeds)
    assert out.shape == (3, 32, 768)
    # layer norm output: per-token mean ~ beta, spread ~ gamma
    assert np.abs(out.mean(axis=-1)).max() < 0.1 and 0.8 < out.std(axis=-1).mean() < 1.2


def test_module_command_writes_both_models(tmp_path, capsys):
    assert model_zoo.main([str(tmp_path)]) == 0
    for name in ("mobilenet_v2", "bert_encoder"):
        onnx.checker.check_model(str(tmp_path / f"{name}.onnx"), full_check=True)
    assert "wrote" in capsys.readouterr().out
