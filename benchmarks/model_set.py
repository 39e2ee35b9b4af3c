"""The benchmark model set: the nine ONNX light CNNs with seeded random weights, a
MobileNetV2-style CNN and a BERT-base encoder layer, at any batch size."""

from __future__ import annotations

import numpy as np
import onnx

from cortado.testing.models import LIGHT_MODELS, graph_inputs, light_model, with_input_shape
from examples.model_zoo import bert_encoder, bert_inputs, mobilenet_v2

ARCHITECTURES = LIGHT_MODELS + ("mobilenet_v2", "bert_encoder")


def build(name: str, batch: int = 1, seed: int = 0) -> onnx.ModelProto:
    """The architecture ``name`` with a static batch of ``batch``."""
    if name in LIGHT_MODELS:
        model = light_model(name, seed=seed)
        return model if batch == 1 else with_input_shape(model, (batch, 3, 224, 224))
    if name == "mobilenet_v2":
        return mobilenet_v2(batch=batch, seed=seed)
    if name == "bert_encoder":
        return bert_encoder(batch=batch, seed=seed)
    raise KeyError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}")


def inputs(name: str, model: onnx.ModelProto, batch: int = 1, seed: int = 1) -> dict[str, np.ndarray]:
    """Seeded random inputs (images, or hidden states and an attention mask)."""
    if name == "bert_encoder":
        return bert_inputs(model, batch=batch, seed=seed)
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in graph_inputs(model):
        shape = tuple(d.dim_value for d in info.type.tensor_type.shape.dim)
        feeds[info.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def parse_names(text: str | None) -> list[str]:
    if not text:
        return list(ARCHITECTURES)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in ARCHITECTURES]
    if unknown:
        raise SystemExit(f"unknown architecture(s) {', '.join(unknown)}; known: {', '.join(ARCHITECTURES)}")
    return names
