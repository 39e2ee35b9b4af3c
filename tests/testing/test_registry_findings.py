"""Inconsistencies in the op registry that the random-graph strategies found, kept as
regression tests now that they are fixed (the strategies no longer steer around them)."""

import numpy as np

from cortado.ir import Graph, Op, TensorType
from cortado.ops import apply, evaluate


def test_ceil_mode_pool_reference_matches_inferred_shape():
    """Fixed: the reference keeps exactly the windows shape inference counts."""
    g = Graph()
    x = g.add_input("x", TensorType((1, 1, 1, 1), "float32"))
    y = apply(g, Op.MAX_POOL, [x], kernel_shape=(1, 1), strides=(1, 1), pads=(0, 0, 0, 1), dilations=(1, 2),
              ceil_mode=1).output
    g.add_output(y, "y")
    out = evaluate(g, {"x": np.ones((1, 1, 1, 1), np.float32)})["y"]
    assert out.shape == tuple(y.shape)


def test_gather_elements_with_short_indices():
    """Fixed: off the gather axis, indices may be shorter than data (the reference crops data)."""
    g = Graph()
    x = g.add_input("x", TensorType((1, 1, 3), "float32"))
    idx = g.add_constant(np.zeros((1, 1, 2), np.int64))
    y = apply(g, Op.GATHER_ELEMENTS, [x, idx], axis=0).output
    g.add_output(y, "y")
    out = evaluate(g, {"x": np.arange(3, dtype=np.float32).reshape(1, 1, 3)})["y"]
    np.testing.assert_array_equal(out, np.array([[[0.0, 1.0]]], np.float32))
