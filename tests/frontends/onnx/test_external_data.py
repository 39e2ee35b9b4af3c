"""Weights stored as ONNX external data load, but only from inside the model's own folder."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cortado
from cortado.errors import ModelLoadError


def _save_with_external(folder, location="weights.bin"):
    w = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])],
                          [numpy_helper.from_array(w, "w")])
    model = helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 13)])
    path = folder / "model.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=location, size_threshold=0)
    return path, w


def _point_at(path, location, **extra):
    m = onnx.load(str(path), load_external_data=False)
    t = m.graph.initializer[0]
    del t.external_data[:]
    for k, v in {"location": location, **extra}.items():
        t.external_data.add(key=k, value=str(v))
    onnx.save_model(m, str(path))


def test_external_data_loads_from_the_model_folder(tmp_path):
    path, w = _save_with_external(tmp_path)
    assert (tmp_path / "weights.bin").stat().st_size == w.nbytes
    m = cortado.compile(str(path), target="interpreter", opt_level=0)
    x = np.random.default_rng(1).standard_normal((2, 16)).astype(np.float32)
    np.testing.assert_allclose(m(x), x @ w, rtol=1e-4, atol=1e-5)


def test_external_data_in_a_subfolder(tmp_path):
    (tmp_path / "data").mkdir()
    path, w = _save_with_external(tmp_path, "data/w.bin")
    m = cortado.compile(str(path), target="interpreter", opt_level=0)
    x = np.ones((2, 16), np.float32)
    np.testing.assert_allclose(m(x), x @ w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "data/../../outside.bin"])
def test_paths_that_escape_the_folder_are_refused(tmp_path, location):
    inner = tmp_path / "model_dir"
    inner.mkdir()
    path, _ = _save_with_external(inner)
    (tmp_path / "outside.bin").write_bytes(b"\0" * 512)
    _point_at(path, location)
    with pytest.raises(ModelLoadError, match="escapes the model's folder|not a relative path"):
        cortado.compile(str(path), target="interpreter")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_symlink_out_of_the_folder_is_refused(tmp_path):
    inner = tmp_path / "model_dir"
    inner.mkdir()
    path, _ = _save_with_external(inner)
    secret = tmp_path / "secret.bin"
    secret.write_bytes((inner / "weights.bin").read_bytes())
    (inner / "link.bin").symlink_to(secret)
    _point_at(path, "link.bin")
    with pytest.raises(ModelLoadError, match="escapes the model's folder"):
        cortado.compile(str(path), target="interpreter")


def test_missing_or_short_external_file(tmp_path):
    path, w = _save_with_external(tmp_path)
    _point_at(path, "weights.bin", offset=16, length=w.nbytes)
    with pytest.raises(ModelLoadError, match="runs past the end"):
        cortado.compile(str(path), target="interpreter")
    _point_at(path, "nothing_here.bin")
    with pytest.raises(ModelLoadError, match="is missing"):
        cortado.compile(str(path), target="interpreter")
