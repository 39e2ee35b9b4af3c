"""Caffe nets are models wherever the CLI takes one: ``check`` lists their layers (supported /
why not), ``bench`` and ``run`` compile them with ``--weights`` (checked against numpy)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

HELPERS = Path(__file__).resolve().parents[1] / "frontends" / "caffe" / "caffe_helpers.py"


def _wire():
    spec = importlib.util.spec_from_file_location("cli_caffe_wire", HELPERS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


NET = '''name: "mlp"
layer { name: "data" type: "Input" top: "data" input_param { shape: { dim: 2 dim: 6 } } }
layer { name: "fc1" type: "InnerProduct" bottom: "data" top: "fc1" inner_product_param { num_output: 4 } }
layer { name: "relu" type: "ReLU" bottom: "fc1" top: "fc1" }
layer { name: "fc2" type: "InnerProduct" bottom: "fc1" top: "fc2" inner_product_param { num_output: 3 } }
'''

UNSUPPORTED = NET.replace('layer { name: "fc2"', '''layer { name: "odd" type: "Frobnicate" bottom: "fc1" top: "odd" }
layer { name: "after" type: "ReLU" bottom: "odd" top: "after" }
layer { name: "fc2"''')


@pytest.fixture
def net(tmp_path):
    rng = np.random.default_rng(0)
    blobs = {"fc1": [rng.standard_normal((4, 6)).astype(np.float32), rng.standard_normal(4).astype(np.float32)],
             "fc2": [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(3).astype(np.float32)]}
    wire = _wire()
    proto, weights = tmp_path / "mlp.prototxt", tmp_path / "mlp.caffemodel"
    proto.write_text(NET)
    weights.write_bytes(wire.net(*[wire.layer(n, "InnerProduct", bs) for n, bs in blobs.items()]))
    return proto, weights, blobs


def test_check_lists_caffe_layers(cortado, net, tmp_path):
    proto, weights, _ = net
    r = cortado("check", proto, "--weights", weights)
    assert r.returncode == 0, r.stderr
    assert "DecodeError" not in r.stdout + r.stderr
    for layer in ("fc1", "relu", "fc2"):
        assert any(line.split()[1:3] in (["fc1", "InnerProduct"], ["relu", "ReLU"], ["fc2", "InnerProduct"])
                   for line in r.stdout.splitlines() if layer in line)
    assert "4 of 4 nodes supported" in r.stdout

    bad = tmp_path / "bad.prototxt"
    bad.write_text(UNSUPPORTED)
    r = cortado("check", bad)
    assert r.returncode == 1, r.stderr
    rows = {line.split()[1]: line for line in r.stdout.splitlines()[1:] if line[:1].isdigit()}
    assert "unsupported" in rows["odd"] and "unknown Caffe layer type" in rows["odd"]
    assert "blocked" in rows["after"] and "Frobnicate layer 'odd'" in rows["after"]
    assert "supported" in rows["fc1"] and "unsupported operators: Frobnicate" in r.stdout
    assert "need weights" in r.stdout     # without --weights the learned layers are pointed out


def test_check_caffe_without_input_shape_points_at_shape(cortado, tmp_path):
    proto = tmp_path / "noshape.prototxt"
    proto.write_text('input: "data"\nlayer { name: "relu" type: "ReLU" bottom: "data" top: "out" }\n')
    r = cortado("check", proto)
    assert r.returncode == 1, r.stderr
    assert "blocked" in r.stdout and "--shape data=" in r.stdout
    r = cortado("check", proto, "--shape", "data=2x3")
    assert r.returncode == 0 and "1 of 1 nodes supported" in r.stdout


def test_run_and_bench_take_caffe_weights(cortado, net, tmp_path):
    proto, weights, b = net
    x = np.random.default_rng(1).standard_normal((2, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = cortado("run", proto, "--weights", weights, "--input", f"data={tmp_path / 'x.npy'}", "--target",
                "interpreter", "--save-outputs", tmp_path / "out", "-q")
    assert r.returncode == 0, r.stderr
    want = np.maximum(x @ b["fc1"][0].T + b["fc1"][1], 0) @ b["fc2"][0].T + b["fc2"][1]
    np.testing.assert_allclose(np.load(tmp_path / "out" / "fc2.npy"), want, rtol=1e-5, atol=1e-5)

    r = cortado("bench", proto, "--weights", weights, "--target", "interpreter", "--runs", "2", "--warmup", "0",
                "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].split()[:2] == ["cortado", "interpreter"]
    assert r.stdout.splitlines()[1].split()[-1] == "2"
    # onnxruntime compares against the ONNX model; a Caffe net is pointed at `cortado convert`
    r = cortado("bench", proto, "--weights", weights, "--against", "onnxruntime")
    assert r.returncode == 2 and "cortado convert" in r.stderr
