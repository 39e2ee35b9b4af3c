"""The BVLC Caffe nets in ../shared: every one compiles; the classic ones run on the
interpreter and match onnxruntime running Cortado's ONNX conversion of the same prototxt
(seeded random weights, batch 1; the logits are compared too, since a softmax over 1000
classes can hide errors)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cortado
from cortado.exporters import convert_caffe
from cortado.frontends.caffe import import_caffe
from cortado.ir import Op
from cortado.testing.models import expose_softmax_input
from cortado.testing.reference import HOST_TARGETS, assert_close, run_onnxruntime

# train/val files read their data from databases: their input shapes are given here (batch 1)
DATA_SHAPES = {
    "bvlc_reference_caffenet__train_val": {"data": (1, 3, 227, 227)},
    "cifar10__cifar10_full_sigmoid_train_test_bn": {"data": (1, 3, 32, 32)},
    "mnist__lenet_train_test": {"data": (1, 1, 28, 28)},
    "mnist__mnist_autoencoder": {"data": (1, 1, 28, 28)},
}
NETS = sorted(p for p in [
    "bvlc_alexnet__deploy", "bvlc_googlenet__deploy", "bvlc_reference_caffenet__deploy",
    "bvlc_reference_caffenet__train_val", "bvlc_reference_rcnn_ilsvrc13__deploy", "cifar10__cifar10_full",
    "cifar10__cifar10_full_sigmoid_train_test_bn", "cifar10__cifar10_quick", "mnist__lenet", "mnist__lenet_train_test",
    "mnist__mnist_autoencoder", "net_surgery__bvlc_caffenet_full_conv", "siamese__mnist_siamese"])


def _path(shared_dir, name):
    return shared_dir / "models" / "caffe" / f"{name}.prototxt"


def _batch1(graph_inputs):
    return {v.name: (1,) + tuple(v.shape[1:]) for v in graph_inputs}


def test_the_list_covers_every_shared_net(shared_dir):
    assert sorted(p.stem for p in (shared_dir / "models" / "caffe").glob("*.prototxt")) == NETS


@pytest.mark.parametrize("name", NETS)
def test_every_shared_net_compiles(shared_dir, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        m = cortado.compile(str(_path(shared_dir, name)), random_weights=True, input_shapes=DATA_SHAPES.get(name),
                             target="interpreter")
    assert m.stats["kernels"] > 0 and m.output_names
    assert "def " in m.source and "@triton.jit" in m.source


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist__lenet", "cifar10__cifar10_quick",
                                  "cifar10__cifar10_full",
                                  "bvlc_reference_caffenet__deploy", "bvlc_alexnet__deploy", "bvlc_googlenet__deploy"])
@pytest.mark.parametrize("target", HOST_TARGETS)
def test_net_runs_and_matches_onnxruntime_on_the_converted_model(shared_dir, name, target):
    path = _path(shared_dir, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        graph = import_caffe(path, random_weights=True, quiet=True)
        shapes = _batch1(graph.inputs)
        graph = import_caffe(path, random_weights=True, quiet=True, input_shapes=shapes)
        onnx_model = expose_softmax_input(convert_caffe(path, random_weights=True, input_shapes=shapes))
    softmax = [n for n in graph.nodes if n.op is Op.SOFTMAX][-1]
    graph.add_output(softmax.inputs[0], "logits")
    model = cortado.compile(graph, target=target)
    x = {k: np.random.default_rng(1).standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    got = model.run(x)
    expected = run_onnxruntime(onnx_model, x)
    names = [o.name for o in onnx_model.graph.output]
    assert names[:-1] == graph.output_names[:-1]
    for out, ref in zip(graph.output_names, expected):
        assert_close(got[out], ref, what=f"{name}:{out}")
    assert np.std(got["logits"]) > 1e-3, "random weights should give input-dependent logits"
