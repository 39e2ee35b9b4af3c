"""Weights: .caffemodel decoding in every format, matching to layers, and every weight error."""

from __future__ import annotations

import numpy as np
import pytest

from cortado.errors import ModelLoadError, WeightsError
from cortado.frontends.caffe import import_caffe, load_caffemodel
from cortado.ops import evaluate

import caffe_helpers as wire
from caffe_helpers import input_layer

NET = input_layer("data", (2, 6)) + '''
layer { name: "fc1" type: "InnerProduct" bottom: "data" top: "fc1" inner_product_param { num_output: 4 } }
layer { name: "relu" type: "ReLU" bottom: "fc1" top: "fc1" }
layer { name: "fc2" type: "InnerProduct" bottom: "fc1" top: "fc2" inner_product_param { num_output: 3 bias_term: false } }
'''


@pytest.fixture
def blobs(rand):
    return {"fc1": [rand(4, 6), rand(4)], "fc2": [rand(3, 4)]}


def expected(x, b):
    return np.maximum(x @ b["fc1"][0].T + b["fc1"][1], 0) @ b["fc2"][0].T


def write(tmp_path, data: bytes, name="w.caffemodel"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("form", ["layer", "v1", "v0", "legacy_shape", "double", "unpacked"])
def test_every_caffemodel_format(tmp_path, rand, blobs, form):
    if form == "v1":
        layers = [wire.v1_layer(n, 14, bs) for n, bs in blobs.items()]
    elif form == "v0":
        layers = [wire.v0_layer(n, "innerproduct", bs) for n, bs in blobs.items()]
    else:
        kw = {"legacy_shape": {"legacy": True}, "double": {"double": True}, "unpacked": {"packed": False}}.get(form, {})
        layers = [wire.layer(n, "InnerProduct", bs, **kw) for n, bs in blobs.items()]
    weights = write(tmp_path, wire.net(*layers))
    decoded = load_caffemodel(weights)
    assert sorted(decoded) == ["fc1", "fc2"]
    assert decoded["fc1"][0].legacy == (form == "legacy_shape")
    proto = tmp_path / "net.prototxt"
    proto.write_text(NET)
    x = rand(2, 6)
    got = evaluate(import_caffe(proto, weights=weights, quiet=True), {"data": x})["fc2"]
    np.testing.assert_allclose(got, expected(x, blobs), rtol=1e-5, atol=1e-6)


def test_weights_file_with_extra_layers_is_fine_and_later_copies_win(tmp_path, rand, blobs):
    decoy = {"fc1": [rand(4, 6), rand(4)]}
    weights = write(tmp_path, wire.net(wire.layer("data", "Input"), wire.layer("unused", "Convolution", [rand(2, 2)]),
                                       *[wire.layer(n, "InnerProduct", bs) for n, bs in decoy.items()],
                                       *[wire.layer(n, "InnerProduct", bs) for n, bs in blobs.items()]))
    proto = tmp_path / "net.prototxt"
    proto.write_text(NET)
    x = rand(2, 6)
    got = evaluate(import_caffe(proto, weights=weights, quiet=True), {"data": x})["fc2"]
    np.testing.assert_allclose(got, expected(x, blobs), rtol=1e-5, atol=1e-6)


def _problems(tmp_path, layers) -> str:
    weights = write(tmp_path, wire.net(*layers))
    proto = tmp_path / "net.prototxt"
    proto.write_text(NET)
    with pytest.raises(WeightsError) as e:
        import_caffe(proto, weights=weights, quiet=True)
    return str(e.value)


def test_weight_problems_are_reported_together(tmp_path, rand):
    msg = _problems(tmp_path, [wire.layer("fc1", "InnerProduct", [rand(4, 5), rand(4)])])
    assert "2 problem(s) with the weights" in msg
    assert "blob 0 (weights) of layer 'fc1' (InnerProduct, line 3) has shape (4, 5) in the weights file, but the " \
           "layer needs (4, 6)" in msg
    assert "layer 'fc2' (InnerProduct, line 5) has no blobs in the weights file" in msg


def test_empty_missing_and_extra_blobs_are_errors(tmp_path, rand):
    msg = _problems(tmp_path, [wire.layer("fc1", "InnerProduct", [rand(4, 6), np.zeros((0,), np.float32)]),
                               wire.layer("fc2", "InnerProduct", [rand(3, 4), rand(3)])])
    assert "blob 1 (bias) of layer 'fc1' (InnerProduct, line 3) is empty in the weights file" in msg
    assert "layer 'fc2' (InnerProduct, line 5) uses 1 blob(s) but the weights file has 2 for it" in msg
    msg = _problems(tmp_path, [wire.layer("fc1", "InnerProduct", [rand(4, 6)]), wire.layer("fc2", "", [rand(3, 4)])])
    assert "blob 1 (bias) of layer 'fc1' (InnerProduct, line 3): the weights file has only 1 blob(s)" in msg


def test_blob_values_must_fill_the_declared_shape(tmp_path):
    bad = wire.length_delimited(7, wire.length_delimited(1, wire.varint(3) + wire.varint(4))) + \
        wire.length_delimited(5, np.zeros(5, "<f4").tobytes())
    weights = write(tmp_path, wire.net(wire.length_delimited(100, wire.string(1, "fc1") +
                                                             wire.length_delimited(7, bad))))
    with pytest.raises(WeightsError, match=r"blob 0 of layer 'fc1' declares shape \(3, 4\) but holds 5 values"):
        load_caffemodel(weights)


def test_no_weights_is_an_error_that_names_the_learned_layers(tmp_path):
    proto = tmp_path / "net.prototxt"
    proto.write_text(NET)
    with pytest.raises(WeightsError) as e:
        import_caffe(proto, quiet=True)
    assert "learned layers (fc1, fc2) but no weights were given" in e.value.message
    assert "--random-weights" in e.value.hint and "weights=NET.caffemodel" in e.value.hint
    # a net without learned layers needs none
    proto.write_text(input_layer("data", (1, 2)) + 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }')
    assert len(import_caffe(proto, quiet=True)) == 1


def test_random_weights_are_seeded_announced_and_shared_by_param_name(tmp_path, capsys):
    proto = tmp_path / "net.prototxt"
    proto.write_text(input_layer("data", (1, 6)) + '''
layer { name: "a" type: "InnerProduct" bottom: "data" top: "a" param { name: "w" } param { name: "b" }
        inner_product_param { num_output: 6 } }
layer { name: "b" type: "InnerProduct" bottom: "a" top: "b" param { name: "w" } param { name: "b" }
        inner_product_param { num_output: 6 } }
layer { name: "c" type: "InnerProduct" bottom: "b" top: "c" inner_product_param { num_output: 6 } }
''')
    with pytest.warns(UserWarning, match="seeded random weights"):
        g = import_caffe(proto, random_weights=True, quiet=True)
    consts = {v.name: v.const for v in g.constants.values()}
    np.testing.assert_array_equal(consts["a/weight"], consts["b/weight"])     # shared parameter
    assert not np.array_equal(consts["a/weight"], consts["c/weight"])
    assert "using seeded random weights (seed 0) for 3 layer(s)" in g.meta["notices"][0]
    again = import_caffe(proto, random_weights=True, quiet=False)
    assert "cortado: note: net.prototxt: using seeded random weights" in capsys.readouterr().err
    np.testing.assert_array_equal({v.name: v.const for v in again.constants.values()}["c/weight"], consts["c/weight"])
    with pytest.warns(UserWarning):
        other = import_caffe(proto, random_weights=7, quiet=True)
    assert not np.array_equal({v.name: v.const for v in other.constants.values()}["c/weight"], consts["c/weight"])


def test_weights_and_random_weights_together_is_an_error(tmp_path, blobs):
    proto = tmp_path / "net.prototxt"
    proto.write_text(NET)
    weights = write(tmp_path, wire.net(*[wire.layer(n, "", bs) for n, bs in blobs.items()]))
    with pytest.raises(WeightsError, match="either weights= or random_weights="):
        import_caffe(proto, weights=weights, random_weights=True, quiet=True)


@pytest.mark.parametrize("content, match", [
    (None, "weights file not found"),
    (b"", "is empty"),
    (b"\xff\xff\xff\xff\x0f garbage", "is not a binary Caffe model"),
    (b'name: "LeNet"\nlayer { name: "x" }\n', "is not a binary Caffe model"),
    (wire.string(1, "just a name"), "has no layers"),
])
def test_unreadable_weights_files(tmp_path, content, match):
    path = tmp_path / "w.caffemodel"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=match) as e:
        load_caffemodel(path)
    if content and content.startswith(b"name"):
        assert "looks like a text prototxt" in e.value.hint


def test_unreadable_prototxt_files(tmp_path, shared_dir):
    with pytest.raises(ModelLoadError, match="model file not found"):
        import_caffe(tmp_path / "missing.prototxt")
    (tmp_path / "empty.prototxt").write_text("")
    with pytest.raises(ModelLoadError, match="is empty"):
        import_caffe(tmp_path / "empty.prototxt")
    binary = tmp_path / "swapped.prototxt"
    binary.write_bytes((shared_dir / "models/caffe/mnist__lenet_iter_10000.caffemodel").read_bytes()[:4096])
    with pytest.raises(ModelLoadError) as e:
        import_caffe(binary)
    assert "not a text prototxt" in e.value.message and "weights=" in e.value.hint
