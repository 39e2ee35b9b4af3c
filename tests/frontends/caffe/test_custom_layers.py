"""Unknown layers are reported together; users map a fork's layers with register_layer."""

from __future__ import annotations

import numpy as np
import pytest

from cortado.errors import ModelFormatError, UnsupportedOpError
from cortado.frontends.caffe import import_caffe, register_layer, registered_layers, unregister_layer
from cortado.ir import Op
from cortado.ops import evaluate

from caffe_helpers import input_layer

# fork layer types Cortado has no converter for (its own fork layers are in test_fork_layers.py)
FORK_NET = input_layer("data", (1, 2, 3, 3)) + '''layer { name: "up" type: "NNUpsample" bottom: "data" top: "up"
  nn_upsample_param { scale: 2 mode: "nearest" } }
layer { name: "norm" type: "L2Norm" bottom: "up" top: "norm" l2_norm_param { across_spatial: false } }
layer { name: "relu" type: "ReLU" bottom: "norm" top: "out" }
layer { name: "roi" type: "PSROIPooling" bottom: "data" top: "roi" psroi_pooling_param { group_size: 4 } }
'''


@pytest.fixture
def cleanup():
    names: list[str] = []
    yield names
    for n in names:
        if n in registered_layers() and registered_layers()[n] == "custom":
            unregister_layer(n)


def test_unknown_layers_are_reported_together_with_names_and_lines(caffe_net):
    proto, _ = caffe_net.write(FORK_NET)
    with pytest.raises(UnsupportedOpError) as e:
        import_caffe(proto, quiet=True)
    items = e.value.items
    assert [(t, n) for t, n, _ in items] == [("NNUpsample", "up"), ("L2Norm", "norm"), ("PSROIPooling", "roi")]
    assert items[0][2].startswith("line 2: unknown Caffe layer type; register a converter")
    assert "line 4:" in items[1][2] and "line 6:" in items[2][2]
    assert "3 unsupported operator(s)" in str(e.value)


def upsample(ctx, layer, inputs):
    """Nearest-neighbour upsampling from IR ops: a broadcast Mul against ones, then Reshape."""
    p = ctx.raw_param("nn_upsample_param")
    s = int(p.get("scale", 2)) if p is not None else 2
    x = inputs[0]
    n, c, h, w = x.shape
    expanded = ctx.op(Op.RESHAPE, [x], shape=(n, c, h, 1, w, 1))
    tiled = ctx.op(Op.MUL, [expanded, ctx.const(np.ones((1, 1, 1, s, 1, s)), "ones")])
    return [ctx.op(Op.RESHAPE, [tiled], shape=(n, c, h * s, w * s), top=0)]


def normalize(ctx, layer, inputs):
    """SSD's Normalize (per-position L2 norm over channels) with its learned scale blob."""
    x = inputs[0]
    c = x.shape[1]
    scale = ctx.blob(0, (c,), "scale")
    sq = ctx.op(Op.MUL, [x, x])
    summed = ctx.op(Op.CONV, [sq, ctx.const(np.ones((1, c, 1, 1)), "ones")], kernel_shape=(1, 1), strides=(1, 1),
                    pads=(0, 0, 0, 0), dilations=(1, 1), group=1)
    norm = ctx.op(Op.SQRT, [ctx.op(Op.ADD, [summed, ctx.scalar(1e-10)])])
    y = ctx.op(Op.DIV, [x, norm])
    return [ctx.op(Op.MUL, [y, ctx.const(scale.reshape(c, 1, 1), "scale")], top=0)]


def test_registered_converters_map_fork_layers(caffe_net, rand, cleanup):
    register_layer("NNUpsample", upsample, fields=["nn_upsample_param"])
    register_layer("L2Norm", fields=("l2_norm_param",))(normalize)
    cleanup += ["NNUpsample", "L2Norm"]
    text = FORK_NET.split('layer { name: "roi"')[0]
    scale = rand(2)
    x = rand(1, 2, 3, 3)
    g = caffe_net.graph(text, {"norm": [scale]})
    got = evaluate(g, {"data": x})["out"]
    up = x.repeat(2, axis=2).repeat(2, axis=3)
    ref = up / np.sqrt((up ** 2).sum(axis=1, keepdims=True) + 1e-10) * scale.reshape(1, 2, 1, 1)
    np.testing.assert_allclose(got, np.maximum(ref, 0), rtol=1e-5)
    assert g.nodes[-1].meta["caffe_layer"] == "relu"


def test_an_undeclared_field_of_a_registered_layer_is_an_error(caffe_net, cleanup):
    register_layer("NNUpsample", upsample)          # no fields declared
    cleanup.append("NNUpsample")
    proto, _ = caffe_net.write(FORK_NET.split('layer { name: "norm"')[0])
    with pytest.raises(ModelFormatError) as e:
        import_caffe(proto, quiet=True)
    assert "unknown field 'nn_upsample_param' in layer 'up'" in e.value.message
    assert e.value.where.endswith(":3:3")


def test_an_unknown_field_on_a_built_in_layer_is_an_error(caffe_net):
    proto, _ = caffe_net.write(input_layer("data", (1, 2, 4, 4)) + '''layer { name: "p" type: "Pooling"
  bottom: "data" top: "p" pooling_param { kernel_size: 2 floor_mode: false } }''')
    with pytest.raises(ModelFormatError, match="unknown field 'floor_mode' in layer 'p'.pooling_param"):
        import_caffe(proto, quiet=True)


def test_registration_rules(cleanup):
    with pytest.raises(ValueError, match="already has a built-in converter; pass replace=True"):
        register_layer("ReLU", upsample)
    with pytest.raises(TypeError, match="must be callable"):
        register_layer("Thing", 3)
    with pytest.raises(ValueError, match="kind must be"):
        register_layer("Thing", upsample, kind="output")
    register_layer("Thing", upsample)
    cleanup.append("Thing")
    with pytest.raises(ValueError, match="already has a registered converter"):
        register_layer("Thing", upsample)
    assert registered_layers()["Thing"] == "custom" and registered_layers()["ReLU"] == "builtin"
    with pytest.raises(KeyError):
        unregister_layer("ReLU")


def test_replacing_a_built_in_converter(caffe_net, rand, cleanup):
    def relu6(ctx, layer, inputs):
        return [ctx.op(Op.CLIP, [inputs[0], ctx.scalar(0.0), ctx.scalar(6.0)], top=0)]

    register_layer("ReLU", relu6, replace=True)
    cleanup.append("ReLU")
    x = rand(1, 4) * 10
    out = caffe_net.run(input_layer("data", (1, 4)) + 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }',
                        {"data": x})["r"]
    np.testing.assert_allclose(out, np.clip(x, 0, 6))
    unregister_layer("ReLU")
    cleanup.clear()
    out = caffe_net.run(input_layer("data", (1, 4)) + 'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }',
                        {"data": x})["r"]
    np.testing.assert_allclose(out, np.maximum(x, 0))


def test_custom_data_layer(caffe_net, rand, cleanup):
    def python_data(ctx, layer, inputs):
        p = layer.param("python_param")
        assert p.module == "my_data"
        return [(layer.tops[0], (2, None))]

    register_layer("Python", python_data, kind="input", replace=True)
    cleanup.append("Python")
    text = '''layer { name: "in" type: "Python" top: "data" python_param { module: "my_data" layer: "Feed" } }
layer { name: "r" type: "TanH" bottom: "data" top: "r" }'''
    g = caffe_net.graph(text, input_shapes={"data": (2, 5)})
    assert [tuple(v.shape) for v in g.inputs] == [(2, 5)]


def test_python_layers_without_a_converter_say_how_to_add_one(caffe_net):
    proto, _ = caffe_net.write('layer { name: "py" type: "Python" top: "data" python_param { module: "m" } }\n'
                               'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }')
    with pytest.raises(UnsupportedOpError, match="register a converter for type 'Python'"):
        import_caffe(proto, quiet=True)
