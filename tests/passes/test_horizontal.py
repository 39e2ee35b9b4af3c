"""Horizontal fusion: sibling MatMuls / Convs of one input merge into one contraction + slices."""

from __future__ import annotations

import numpy as np
from hypothesis import settings

from cortado import ops
from cortado.ir import Graph, TensorType, clone_graph
from cortado.testing import check_pass, strategies
from cortado.testing.reference import assert_close
from cortado.passes.horizontal import fuse_siblings


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def same_function(g: Graph, feeds: dict):
    before = ops.evaluate(g, feeds)
    h = clone_graph(g)
    changed = fuse_siblings(h)
    ops.verify(h)
    after = ops.evaluate(h, feeds)
    for name in g.output_names:
        assert_close(after[name], before[name], what=name)
    return changed, h


def qkv_graph(rng, with_bias=True, reader="MatMul"):
    """Three projections of x, each read by a contraction (as attention reads Q, K and V)."""
    g = Graph()
    x = g.add_input("x", TensorType((2, 5, 16), "float32"))
    for name, n in (("q", 16), ("k", 16), ("v", 8)):
        y = ops.apply(g, "MatMul", [x, g.add_constant(rand(rng, 16, n))]).output
        if with_bias:
            y = ops.apply(g, "Add", [y, g.add_constant(rand(rng, n))]).output
        if reader == "MatMul":
            y = ops.apply(g, "Transpose", [y], perm=(0, 2, 1)).output
            y = ops.apply(g, "MatMul", [y, g.add_constant(rand(rng, 5, 3))]).output
        else:
            y = ops.apply(g, reader, [y]).output
        g.add_output(y, name)
    return g


def test_qkv_projections_become_one_matmul_with_one_bias(rng):
    changed, h = same_function(qkv_graph(rng), {"x": rand(rng, 2, 5, 16)})
    assert changed
    ops_after = [n.op.value for n in h.nodes]
    assert ops_after.count("MatMul") == 1 + 3 and ops_after.count("Add") == 1 and ops_after.count("Slice") == 3
    mm = next(n for n in h.nodes if n.op.value == "MatMul")
    assert tuple(mm.inputs[1].shape) == (16, 40)


def test_siblings_without_bias(rng):
    changed, h = same_function(qkv_graph(rng, with_bias=False), {"x": rand(rng, 2, 5, 16)})
    assert changed and [n.op.value for n in h.nodes].count("MatMul") == 1 + 3


def test_sibling_convs_share_one_conv_and_a_hoisted_relu(rng):
    g = Graph()
    x = g.add_input("x", TensorType((1, 4, 6, 6), "float32"))
    outs = []
    for cout in (3, 5):
        w, b = g.add_constant(rand(rng, cout, 4, 1, 1)), g.add_constant(rand(rng, cout))
        c = ops.apply(g, "Conv", [x, w, b], kernel_shape=(1, 1), strides=(1, 1), pads=(0, 0, 0, 0),
                      dilations=(1, 1), group=1).output
        outs.append(ops.apply(g, "Relu", [c]).output)
    cat = ops.apply(g, "Concat", outs, axis=1).output
    g.add_output(ops.apply(g, "Conv", [cat, g.add_constant(rand(rng, 2, 8, 3, 3))], kernel_shape=(3, 3),
                           strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), group=1).output, "y")
    changed, h = same_function(g, {"x": rand(rng, 1, 4, 6, 6)})
    assert changed
    names = [n.op.value for n in h.nodes]
    assert names.count("Conv") == 1 + 1 and names.count("Relu") == 1


def test_siblings_read_elementwise_stay_apart(rng):
    """Merging would cost each Tanh its place as an epilogue: a kernel more, not fewer."""
    changed, _ = same_function(qkv_graph(rng, reader="Tanh"), {"x": rand(rng, 2, 5, 16)})
    assert not changed


def test_different_windows_are_not_merged(rng):
    g = Graph()
    x = g.add_input("x", TensorType((1, 4, 6, 6), "float32"))
    for i, (k, s) in enumerate(((1, 1), (1, 2))):
        w = g.add_constant(rand(rng, 2, 4, k, k))
        g.add_output(ops.apply(g, "Conv", [x, w], kernel_shape=(k, k), strides=(s, s), pads=(0, 0, 0, 0),
                               dilations=(1, 1), group=1).output, f"y{i}")
    changed, _ = same_function(g, {"x": rand(rng, 1, 4, 6, 6)})
    assert not changed


def test_shared_constants_are_never_written(rng):
    g = qkv_graph(rng)
    consts = {n: v.const.copy() for n, v in g.constants.items()}
    fuse_siblings(g)
    for name, before in consts.items():
        if name in g.constants:
            np.testing.assert_array_equal(g.constants[name].const, before)


def test_merging_siblings_preserves_semantics():
    """Random graphs seeded with sibling MatMuls/Convs (biases, shared unary ops, view readers)."""
    check_pass(fuse_siblings, graphs=strategies.graphs(motifs=["siblings", "duplicate"]), idempotent=True)


def test_the_sibling_motif_gives_the_pass_work():
    """The property above is only worth its examples if the pass fires on many of them."""
    fired = []

    def spy(g):
        changed = fuse_siblings(g)
        fired.append(changed)
        return changed

    check_pass(spy, graphs=strategies.graphs(motifs=["siblings"]), settings=settings(max_examples=100, derandomize=True,
                                                                                       deadline=None))
    assert sum(fired) >= len(fired) // 20, f"fired on {sum(fired)} of {len(fired)} graphs"
