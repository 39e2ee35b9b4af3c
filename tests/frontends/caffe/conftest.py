"""Fixtures for Caffe frontend tests: write a prototxt (and weights) and run it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cortado.frontends.caffe import import_caffe
from cortado.ops import evaluate

import caffe_helpers as wire


class CaffeNet:
    """Write nets into a temporary folder and evaluate them with the numpy reference."""

    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    def write(self, text: str, weights: dict | None = None, *, v1: bool = False) -> tuple:
        """Paths of the prototxt and (when ``weights`` maps layer -> blobs) a caffemodel."""
        self.count += 1
        proto = self.folder / f"net{self.count}.prototxt"
        proto.write_text(text)
        if weights is None:
            return proto, None
        model = self.folder / f"net{self.count}.caffemodel"
        layers = [wire.v1_layer(n, 0, blobs) if v1 else wire.layer(n, "", blobs)
                  for n, blobs in weights.items()]
        model.write_bytes(wire.net(*layers))
        return proto, model

    def graph(self, text: str, weights: dict | None = None, **kw):
        proto, model = self.write(text, weights)
        kw.setdefault("quiet", True)
        with warnings.catch_warnings():   # the random-weights warning has a test of its own
            warnings.simplefilter("ignore", UserWarning)
            return import_caffe(proto, weights=model, **kw)

    def run(self, text: str, feeds: dict, weights: dict | None = None, **kw) -> dict:
        return evaluate(self.graph(text, weights, **kw), feeds)


@pytest.fixture
def caffe_net(tmp_path):
    return CaffeNet(tmp_path)


@pytest.fixture
def rand():
    rng = np.random.default_rng(0)
    return lambda *shape: rng.standard_normal(shape).astype(np.float32)
