"""Convolutions in the tap-major form (taps outside, input channels in BK chunks inside), which
the conv template takes from 16 input channels per group: every conv form it handles, on the
interpreter and the cpu target, against the numpy reference evaluator."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado import ops
from cortado.ir import Graph, Sym, TensorType
from cortado.testing.reference import HOST_TARGETS, assert_close


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def conv_graph(rng, shape, wshape, batch=None, **attrs):
    g = Graph()
    x = g.add_input("x", TensorType(((batch,) if batch else shape[:1]) + tuple(shape[1:]), "float32"))
    w, b = g.add_constant(rand(rng, *wshape)), g.add_constant(rand(rng, wshape[0]))
    y = ops.apply(g, "Conv", [x, w, b], kernel_shape=wshape[2:], **attrs).output
    g.add_output(ops.apply(g, "Relu", [y]).output, "y")
    return g


def check(g, feeds, opt_level=0):
    ref = ops.evaluate(g, feeds)
    for target in HOST_TARGETS:
        m = cortado.compile(g, target=target, opt_level=opt_level)
        assert_close(m.run(feeds)["y"], ref["y"], what=target)
        if target == "interpreter":
            assert "for c0 in range(0, C_in, BK)" in m.source, "the conv did not take the tap-major form"


@pytest.mark.parametrize("shape,wshape,attrs", [
    # 3x3, pad 1: ResNet's conv
    ((2, 16, 6, 5), (8, 16, 3, 3), dict(strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), group=1)),
    # channels not a multiple of any BK, strides, asymmetric pads, dilations
    ((1, 20, 9, 8), (6, 20, 3, 2), dict(strides=(2, 3), pads=(0, 1, 2, 0), dilations=(2, 1), group=1)),
    # groups of 16 channels
    ((1, 32, 5, 5), (12, 16, 3, 3), dict(strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), group=2)),
    # 1x1 with stride: a projection shortcut, no tap loop
    ((1, 16, 7, 7), (8, 16, 1, 1), dict(strides=(2, 2), pads=(0, 0, 0, 0), dilations=(1, 1), group=1)),
    # one output pixel from a 1x1 input: the window coordinates are the tap counters alone
    ((1, 16, 1, 1), (4, 16, 3, 3), dict(strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), group=1)),
    # no padding, windows that end before the input does
    ((1, 16, 8, 7), (4, 16, 3, 3), dict(strides=(3, 2), pads=(0, 0, 0, 0), dilations=(1, 1), group=1)),
    # 1-D and 3-D
    ((2, 17, 13), (4, 17, 3), dict(strides=(2,), pads=(1, 0), dilations=(2,), group=1)),
    ((1, 16, 4, 5, 3), (3, 16, 2, 3, 1), dict(strides=(1, 2, 1), pads=(0, 1, 0, 1, 0, 0), dilations=(1, 1, 1),
                                               group=1)),
])
def test_tap_major_conv_forms(rng, shape, wshape, attrs):
    check(conv_graph(rng, shape, wshape, **attrs), {"x": rand(rng, *shape)})


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_tap_major_auto_pad_against_onnxruntime(rng, auto_pad):
    """ONNX's auto_pad (resolved to uneven pads by the importer) in an ONNX model, checked
    against onnxruntime."""
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    w = rand(rng, 4, 16, 3, 3)
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2], auto_pad=auto_pad)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 6, 7])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    feeds = {"x": rand(rng, 1, 16, 6, 7)}
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    m = cortado.compile(model, target="interpreter", opt_level=0)
    assert "for c0 in range(0, C_in, BK)" in m.source
    assert_close(m.run(feeds)["y"], ref, what=auto_pad)


def test_tap_major_symbolic_batch(rng):
    g = conv_graph(rng, (None, 16, 5, 5), (4, 16, 3, 3), batch=Sym("N"), strides=(1, 1), pads=(1, 1, 1, 1),
                   dilations=(1, 1), group=1)
    ref_m = {t: cortado.compile(g, target=t, opt_level=0) for t in HOST_TARGETS}
    for n in (1, 3):
        feeds = {"x": rand(rng, n, 16, 5, 5)}
        ref = ops.evaluate(g, feeds)["y"]
        for t, m in ref_m.items():
            assert_close(m.run(feeds)["y"], ref, what=f"{t}, batch {n}")


def test_tap_major_residual_block_with_projection_shortcut(rng):
    """Fused (O2): the block's conv and its 1x1 shortcut accumulate in one kernel, both tap-major."""
    g = Graph()
    x = g.add_input("x", TensorType((1, 16, 6, 6), "float32"))
    w1, b1 = g.add_constant(rand(rng, 32, 16, 3, 3)), g.add_constant(rand(rng, 32))
    w2, b2 = g.add_constant(rand(rng, 32, 16, 1, 1)), g.add_constant(rand(rng, 32))
    main = ops.apply(g, "Conv", [x, w1, b1], kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1),
                     dilations=(1, 1), group=1).output
    short = ops.apply(g, "Conv", [x, w2, b2], kernel_shape=(1, 1), strides=(2, 2), pads=(0, 0, 0, 0),
                      dilations=(1, 1), group=1).output
    s = ops.apply(g, "Add", [main, short]).output
    g.add_output(ops.apply(g, "Relu", [s]).output, "y")
    check(g, {"x": rand(rng, 1, 16, 6, 6)}, opt_level=2)
