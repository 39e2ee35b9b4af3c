"""The Caffe net model: schema checks, legacy formats, phases and stages, inputs, SSA naming,
outputs."""

from __future__ import annotations

import numpy as np
import pytest

from cortado.errors import ModelFormatError, ShapeError
from cortado.frontends.caffe import import_caffe, load_net
from cortado.ir import Sym
from cortado.ops import evaluate

from caffe_helpers import input_layer

RELU_NET = input_layer("data", (2, 3)) + 'layer { name: "r" type: "ReLU" bottom: "data" top: "out" }\n'


def test_unknown_and_ill_typed_fields_are_reported_together_with_positions(caffe_net):
    text = input_layer() + '''layer {
  name: "c" type: "Convolution" bottom: "data" top: "c"
  convolution_param { num_outptu: 4 kernel_size: -1 bias_term: 2 }
  phase: TESTING
}
'''
    proto, _ = caffe_net.write(text)
    with pytest.raises(ModelFormatError) as e:
        import_caffe(proto, random_weights=True, quiet=True)
    msg = str(e.value)
    assert "4 problems" in msg
    assert f"{proto}:4:23: unknown field 'num_outptu' in layer 'c'.convolution_param" in msg
    assert "did you mean 'num_output'?" in msg
    assert f"{proto}:4:37: field 'kernel_size' of layer 'c'.convolution_param = -1 is out of range for uint32" in msg
    assert "needs true or false, got 2" in msg
    assert "must be one of TRAIN, TEST, got 'TESTING'" in msg


def test_scalar_forms_the_schema_accepts(caffe_net):
    text = input_layer("data", (1, 2, 4, 4)) + '''layer { name: "p" type: "Pooling" bottom: "data" top: "p"
  pooling_param { pool: 1 kernel_size: 0x2 stride: 2 global_pooling: False } }
layer { name: "e" type: "ELU" bottom: "p" top: "e" elu_param { alpha: 2 } }
'''
    g = caffe_net.graph(text)
    ops = [n.op.value for n in g.nodes]
    assert ops == ["AveragePool", "Elu"]          # enum by number (AVE = 1), hex kernel, bool spelling
    assert g.nodes[1].attrs.alpha == 2.0          # an integer literal in a float field


def test_singular_field_set_twice_is_an_error(caffe_net):
    proto, _ = caffe_net.write(RELU_NET.replace('name: "r"', 'name: "r" name: "again"'))
    with pytest.raises(ModelFormatError, match="not repeated but is set again"):
        import_caffe(proto, quiet=True)


def test_mixing_layer_and_layers_is_an_error(caffe_net):
    proto, _ = caffe_net.write(RELU_NET + 'layers { name: "x" type: RELU bottom: "out" top: "y" }')
    with pytest.raises(ModelFormatError, match="mixes 'layer' and legacy 'layers'"):
        import_caffe(proto, quiet=True)


def test_v1_layers_upgrade(caffe_net, rand):
    v1 = '''name: "old" input: "data" input_dim: 1 input_dim: 3 input_dim: 6 input_dim: 6
layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv" blobs_lr: 1 blobs_lr: 2
  convolution_param { num_output: 2 kernel_size: 3 pad: 1 } }
layers { name: "relu" type: RELU bottom: "conv" top: "conv" }
layers { name: "pool" type: POOLING bottom: "conv" top: "pool" pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
layers { name: "loss" type: SOFTMAX_LOSS bottom: "pool" bottom: "label" }
'''
    v2 = input_layer("data", (1, 3, 6, 6)) + '''layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 2 kernel_size: 3 pad: 1 } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
'''
    w = rand(2, 3, 3, 3), rand(2)
    x = rand(1, 3, 6, 6)
    proto, _ = caffe_net.write(v1)
    assert load_net(proto).format == "V1"
    old = caffe_net.run(v1, {"data": x}, {"conv": list(w)})
    new = caffe_net.run(v2, {"data": x}, {"conv": list(w)})
    np.testing.assert_allclose(old["pool"], new["pool"], rtol=1e-6)


def test_v0_layers_upgrade_folds_padding_layers(caffe_net, rand):
    v0 = '''name: "ancient" input: "data" input_dim: 1 input_dim: 2 input_dim: 5 input_dim: 5
layers { layer { name: "pad1" type: "padding" pad: 1 } bottom: "data" top: "pad1" }
layers { layer { name: "conv1" type: "conv" num_output: 3 kernelsize: 3 stride: 1 biasterm: false }
         bottom: "pad1" top: "conv1" }
layers { layer { name: "relu1" type: "relu" } bottom: "conv1" top: "conv1" }
layers { layer { name: "pool1" type: "pool" pool: MAX kernelsize: 2 stride: 2 } bottom: "conv1" top: "pool1" }
layers { layer { name: "fc" type: "innerproduct" num_output: 4 } bottom: "pool1" top: "fc" }
'''
    proto, _ = caffe_net.write(v0)
    net = load_net(proto)
    assert net.format == "V0"
    assert [l.type for l in net.layers] == ["Convolution", "ReLU", "Pooling", "InnerProduct"]
    assert net.layers[0].bottoms == ["data"] and list(net.layers[0].param("convolution_param").pad) == [1]
    w1, w2, b2 = rand(3, 2, 3, 3), rand(4, 27), rand(4)
    x = rand(1, 2, 5, 5)
    got = caffe_net.run(v0, {"data": x}, {"conv1": [w1], "fc": [w2, b2]})["fc"]
    # hand computation: padded 3x3 conv, ReLU, 2x2/2 max pool rounded up (5 -> 3: the last
    # window holds one row/column), FC
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((1, 3, 5, 5), np.float32)
    for i in range(5):
        for j in range(5):
            conv[0, :, i, j] = np.tensordot(w1, xp[0, :, i:i + 3, j:j + 3], axes=3)
    conv = np.maximum(conv, 0)
    pool = np.array([[[conv[0, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max() for j in range(3)] for i in range(3)]
                     for c in range(3)])
    np.testing.assert_allclose(got, pool.reshape(1, 27) @ w2.T + b2, rtol=1e-4, atol=1e-5)


def test_v0_padding_into_a_non_conv_layer_is_an_error(caffe_net):
    proto, _ = caffe_net.write('''input: "data" input_dim: 1 input_dim: 1 input_dim: 2 input_dim: 2
layers { layer { name: "pad" type: "padding" pad: 1 } bottom: "data" top: "p" }
layers { layer { name: "r" type: "relu" } bottom: "p" top: "r" }''')
    with pytest.raises(ModelFormatError, match="only convolution and pooling can absorb padding"):
        load_net(proto)


TRAIN_TEST = '''name: "tt"
layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TRAIN } data_param { batch_size: 64 } }
layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TEST } data_param { batch_size: 100 }
        transform_param { scale: 0.00390625 } }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 3 } }
layer { name: "drop" type: "Dropout" bottom: "fc" top: "fc" exclude { phase: TEST } }
layer { name: "acc" type: "Accuracy" bottom: "fc" bottom: "label" top: "acc" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
'''


def test_test_phase_keeps_the_test_data_layer_and_drops_training_layers(caffe_net):
    g = caffe_net.graph(TRAIN_TEST, random_weights=True, input_shapes={"data": (1, 5)})
    assert [v.name for v in g.inputs] == ["data"]          # the label is read only by dropped layers
    assert g.output_names == ["fc"]                          # what the loss and accuracy read
    notes = "\n".join(g.meta["notices"])
    assert "layer 'acc' (Accuracy, line 7): dropped for inference" in notes
    assert "layer 'loss' (SoftmaxWithLoss, line 8): dropped" in notes
    assert "preprocessing (scale) is not compiled" in notes
    assert [n.op.value for n in g.nodes] == ["Gemm"]        # the TRAIN-only dropout is gone


def test_data_layer_shape_comes_from_the_prototxt_where_it_can(caffe_net):
    proto, _ = caffe_net.write(TRAIN_TEST)
    with pytest.raises(ShapeError) as e:
        import_caffe(proto, random_weights=True, quiet=True)
    assert "'data' (layer 'd' (Data, line 3): shape 100x?x?x?)" in e.value.message
    assert "input_shapes={'data': (100, C, H, W)}" in e.value.hint


def test_train_phase_and_include_exclude_rules(caffe_net):
    g = caffe_net.graph(TRAIN_TEST, random_weights=True, input_shapes={"data": (1, 5)}, phase="TRAIN")
    assert [n.op.value for n in g.nodes] == ["Gemm"]        # Dropout is the identity at inference
    text = TRAIN_TEST.replace("exclude { phase: TEST }", "include { phase: TEST } exclude { phase: TRAIN }")
    proto, _ = caffe_net.write(text)
    with pytest.raises(ModelFormatError, match="both include and exclude"):
        import_caffe(proto, random_weights=True, input_shapes={"data": (1, 5)}, quiet=True)


def test_levels_and_stages(caffe_net):
    text = input_layer("data", (1, 4)) + '''
layer { name: "a" type: "ReLU" bottom: "data" top: "a" include { min_level: 1 } }
layer { name: "b" type: "Sigmoid" bottom: "data" top: "b" include { stage: "deploy" } }
layer { name: "c" type: "TanH" bottom: "data" top: "c" exclude { not_stage: "deploy" } }
layer { name: "d" type: "AbsVal" bottom: "data" top: "d" include { max_level: 0 not_stage: "deploy" } }
'''
    ops = lambda **kw: sorted(n.op.value for n in caffe_net.graph(text, **kw).nodes)
    assert ops(stages=[]) == ["Abs"]
    assert ops(stages=["deploy"]) == ["Sigmoid", "Tanh"]
    assert ops(stages=[], level=1) == ["Relu"]


@pytest.mark.filterwarnings("ignore:.*seeded random weights")
def test_stage_is_chosen_automatically_when_the_phase_needs_one(shared_dir):
    g = import_caffe(shared_dir / "models/caffe/mnist__mnist_autoencoder.prototxt", random_weights=True,
                     input_shapes={"data": (1, 1, 28, 28)}, quiet=True)
    assert g.meta["stages"] == ["test-on-train"]
    assert any("compiling stage 'test-on-train' of phase TEST (the net also defines 'test-on-test')" in n
               for n in g.meta["notices"])
    g2 = import_caffe(shared_dir / "models/caffe/mnist__mnist_autoencoder.prototxt", random_weights=True,
                      input_shapes={"data": (1, 1, 28, 28)}, quiet=True, stages=["test-on-test"])
    assert g2.meta["stages"] == ["test-on-test"]


def test_reading_a_blob_of_an_excluded_layer_says_so(caffe_net):
    text = '''layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 } } include { phase: TRAIN } }
layer { name: "r" type: "ReLU" bottom: "x" top: "y" }'''
    proto, _ = caffe_net.write(text)
    with pytest.raises(ModelFormatError) as e:
        import_caffe(proto, quiet=True)
    assert "layer 'r' (ReLU, line 2) reads blob 'x', which no earlier layer produces" in e.value.message
    assert "produced by layer 'in' (line 1)" in e.value.hint


@pytest.mark.parametrize("decl", [
    'input: "data" input_dim: 2 input_dim: 3 input_dim: 4 input_dim: 5',
    'input: "data" input_shape { dim: 2 dim: 3 dim: 4 dim: 5 }',
    'layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 5 } } }',
    'layer { name: "m" type: "MemoryData" top: "data" top: "label" '
    'memory_data_param { batch_size: 2 channels: 3 height: 4 width: 5 } }',
    'layer { name: "dd" type: "DummyData" top: "data" dummy_data_param { num: 2 channels: 3 height: 4 width: 5 } }',
])
def test_every_way_to_declare_an_input(caffe_net, decl):
    g = caffe_net.graph(decl + '\nlayer { name: "r" type: "ReLU" bottom: "data" top: "r" }')
    assert [(v.name, tuple(v.shape)) for v in g.inputs] == [("data", (2, 3, 4, 5))]


def test_one_input_shape_for_several_tops_and_overrides(caffe_net):
    text = '''layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 1 dim: 2 } } }
layer { name: "s" type: "Eltwise" bottom: "a" bottom: "b" top: "s" }'''
    g = caffe_net.graph(text)
    assert [tuple(v.shape) for v in g.inputs] == [(1, 2), (1, 2)]
    g = caffe_net.graph(text, input_shapes={"a": ("N", 2), "b": ("N", 2)})
    assert [tuple(v.shape) for v in g.inputs] == [(Sym("N"), 2)] * 2
    proto, _ = caffe_net.write(text)
    with pytest.raises(ShapeError, match="names 'c', which the net has no input of"):
        import_caffe(proto, input_shapes={"c": (1, 2)}, quiet=True)


def test_in_place_layers_become_ssa_values_named_after_the_layer(caffe_net, rand):
    text = input_layer("data", (1, 4)) + '''
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "x" inner_product_param { num_output: 4 } }
layer { name: "relu" type: "ReLU" bottom: "x" top: "x" }
layer { name: "scale" type: "Power" bottom: "x" top: "x" power_param { scale: 2 } }
layer { name: "out" type: "Sigmoid" bottom: "x" top: "y" }
'''
    w, b = rand(4, 4), rand(4)
    g = caffe_net.graph(text, {"fc": [w, b]})
    assert [n.output.name for n in g.nodes] == ["x", "relu", "scale", "y"]
    x = rand(1, 4)
    expected = 1 / (1 + np.exp(-2 * np.maximum(x @ w.T + b, 0)))
    np.testing.assert_allclose(evaluate(g, {"data": x})["y"], expected, rtol=1e-5)


def test_outputs_are_the_blobs_nobody_reads(caffe_net):
    text = input_layer("data", (1, 4)) + '''
layer { name: "split" type: "Split" bottom: "data" top: "s1" top: "s2" }
layer { name: "a" type: "ReLU" bottom: "s1" top: "a" }
layer { name: "b" type: "TanH" bottom: "s2" top: "b" }
layer { name: "c" type: "Sigmoid" bottom: "a" top: "c" }
layer { name: "mute" type: "Silence" bottom: "b" }
'''
    g = caffe_net.graph(text)
    assert g.output_names == ["c"]
    g = caffe_net.graph(input_layer("data", (1, 4)) + 'layer { name: "s" type: "Split" bottom: "data" top: "p" '
                        'top: "q" }')
    assert g.output_names == ["p", "q"]     # pass-through tops get their own Identity nodes
    out = evaluate(g, {"data": np.arange(4, dtype=np.float32).reshape(1, 4)})
    assert out["p"].tolist() == out["q"].tolist() == [[0, 1, 2, 3]]


def test_reading_the_output_of_a_dropped_loss_layer_is_an_error(caffe_net):
    proto, _ = caffe_net.write(input_layer("data", (1, 4)) + input_layer("label", (1,)) + '''
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "data" bottom: "label" top: "loss" }
layer { name: "show" type: "Power" bottom: "loss" top: "shown" }''')
    with pytest.raises(ModelFormatError, match="reads blob 'loss', the output of layer 'loss' .* dropped for inference"):
        import_caffe(proto, quiet=True)
