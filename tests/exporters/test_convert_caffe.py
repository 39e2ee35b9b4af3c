"""``convert_caffe``: checked ONNX out of a prototxt (+ caffemodel), written atomically."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest

from cortado.errors import ModelLoadError, OutputError, WeightsError
from cortado.exporters import convert_caffe, save_onnx
from cortado.exporters import convert as convert_module
from cortado.frontends.caffe import import_caffe
from cortado.ops import evaluate
from cortado.testing.reference import run_onnxruntime

LENET = "models/caffe/mnist__lenet.prototxt"
LENET_WEIGHTS = "models/caffe/mnist__lenet_iter_10000.caffemodel"


def test_trained_lenet_converts_and_runs_in_onnxruntime(shared_dir, tmp_path):
    out = tmp_path / "lenet.onnx"
    model = convert_caffe(shared_dir / LENET, weights=shared_dir / LENET_WEIGHTS, output=out,
                          input_shapes={"data": (3, 1, 28, 28)})
    loaded = onnx.load(str(out))
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded.SerializeToString() == model.SerializeToString()
    assert [i.name for i in loaded.graph.input] == ["data"] and [o.name for o in loaded.graph.output] == ["prob"]
    assert loaded.producer_name == "cortado"
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    graph = import_caffe(shared_dir / LENET, weights=shared_dir / LENET_WEIGHTS, input_shapes={"data": x.shape},
                         quiet=True)
    np.testing.assert_allclose(run_onnxruntime(loaded, {"data": x})[0], evaluate(graph, {"data": x})["prob"],
                               rtol=1e-4, atol=1e-6)


def test_random_weight_conversion_records_its_notices(shared_dir):
    with pytest.warns(UserWarning, match="seeded random weights"):
        model = convert_caffe(shared_dir / "models/caffe/cifar10__cifar10_quick.prototxt", random_weights=True)
    assert "seeded random weights" in model.graph.doc_string
    onnx.checker.check_model(model)


def test_a_failed_conversion_leaves_the_old_file_alone(shared_dir, tmp_path):
    out = tmp_path / "lenet.onnx"
    out.write_bytes(b"previous")
    with pytest.raises(WeightsError):
        convert_caffe(shared_dir / LENET, output=out)     # no weights given
    assert out.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["lenet.onnx"]


def test_an_interrupted_write_leaves_neither_partial_nor_temporary_files(tmp_path, monkeypatch):
    model = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], []))
    out = tmp_path / "m.onnx"
    out.write_bytes(b"previous")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(convert_module.os, "replace", fail)
    with pytest.raises(OutputError, match="disk full"):
        save_onnx(model, out)
    assert out.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_output_path_errors(tmp_path):
    model = onnx.helper.make_model(onnx.helper.make_graph([], "g", [], []))
    with pytest.raises(OutputError, match="is a folder"):
        save_onnx(model, tmp_path)
    with pytest.raises(OutputError, match="does not exist"):
        save_onnx(model, tmp_path / "missing" / "m.onnx")
    assert save_onnx(model, tmp_path / "m.onnx").read_bytes() == model.SerializeToString()


def test_symbolic_batch_survives_conversion(shared_dir):
    model = convert_caffe(shared_dir / LENET, weights=shared_dir / LENET_WEIGHTS, input_shapes={"data": ("N", 1, 28, 28)})
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    graph = import_caffe(shared_dir / LENET, weights=shared_dir / LENET_WEIGHTS, input_shapes={"data": ("N", 1, 28, 28)},
                         quiet=True)
    for n in (1, 4):
        x = np.random.default_rng(n).random((n, 1, 28, 28)).astype(np.float32)
        np.testing.assert_allclose(run_onnxruntime(model, {"data": x})[0], evaluate(graph, {"data": x})["prob"],
                                   rtol=1e-4, atol=1e-6)
