"""Fusion partitioning: kernel counts on known patterns, and fused results equal unfused ones."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado import ops
from cortado.ir import Graph, Sym, TensorType
from cortado.testing.reference import assert_close
from cortado.passes.fusion import partition
from cortado.passes.groups import Kind


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def conv(g, x, w, b=None, stride=1, pad=1, group=1):
    k = w.shape[2:]
    return ops.apply(g, "Conv", [x, w, b], kernel_shape=k, strides=(stride,) * len(k), pads=(pad,) * 2 * len(k),
                     dilations=(1,) * len(k), group=group).output


def bn(g, x, rng):
    c = x.shape[1]
    params = [g.add_constant(rand(rng, c)) for _ in range(3)] + [g.add_constant(np.abs(rand(rng, c)) + 0.5)]
    p = [params[0], params[1], params[2], params[3]]
    return ops.apply(g, "BatchNormalization", [x] + p).output


def kernels(g):
    return [grp for grp in partition(g, fuse=True) if grp.kind not in (Kind.ALIAS, Kind.PLACED)]


def check_same(g, feeds):
    fused = cortado.compile(g, target="interpreter", opt_level=2)
    plain = cortado.compile(g, target="interpreter", opt_level=0)
    a, b = fused.run(feeds), plain.run(feeds)
    ref = ops.evaluate(g, feeds)
    for name in g.output_names:
        assert_close(a[name], b[name], what=f"{name} fused vs unfused")
        assert_close(a[name], ref[name], what=f"{name} vs reference")
    return fused


def resnet_block(rng, n=1):
    g = Graph()
    x = g.add_input("x", TensorType((n, 8, 6, 6), "float32"))
    h = ops.apply(g, "Relu", [bn(g, conv(g, x, g.add_constant(rand(rng, 8, 8, 3, 3))), rng)]).output
    h = bn(g, conv(g, h, g.add_constant(rand(rng, 8, 8, 3, 3))), rng)
    y = ops.apply(g, "Relu", [ops.apply(g, "Add", [h, x]).output]).output
    g.add_output(y, "y")
    return g


def test_conv_bn_relu_and_residual_add_fuse_into_two_kernels(rng):
    g = resnet_block(rng)
    ks = kernels(g)
    assert [k.kind for k in ks] == [Kind.CONV, Kind.CONV]
    assert [n.op.value for n in ks[1].nodes] == ["Conv", "BatchNormalization", "Add", "Relu"]
    check_same(g, {"x": rand(rng, 1, 8, 6, 6)})


def test_softmax_with_scale_prologue_is_one_kernel(rng):
    g = Graph()
    x = g.add_input("x", TensorType((4, 33), "float32"))
    s = ops.apply(g, "Mul", [x, g.add_constant(np.float32(0.125))]).output
    sm = ops.apply(g, "Softmax", [s], axis=1).output
    g.add_output(ops.apply(g, "Add", [sm, g.add_constant(rand(rng, 33))]).output, "y")
    ks = kernels(g)
    assert len(ks) == 1 and ks[0].kind is Kind.REDUCTION
    check_same(g, {"x": rand(rng, 4, 33)})


def test_layer_norm_like_chain_of_reductions_and_gemm_epilogue(rng):
    g = Graph()
    x = g.add_input("x", TensorType((Sym("N"), 16), "float32"))
    w1 = g.add_constant(rand(rng, 16, 32))
    b1 = g.add_constant(rand(rng, 32))
    h = ops.apply(g, "MatMul", [x, w1]).output
    h = ops.apply(g, "Relu", [ops.apply(g, "Add", [h, b1]).output]).output
    w2 = g.add_constant(rand(rng, 32, 8))
    g.add_output(ops.apply(g, "MatMul", [h, w2]).output, "y")
    ks = kernels(g)
    assert [k.kind for k in ks] == [Kind.GEMM, Kind.GEMM]   # bias + relu ride on the first
    for n in (1, 5):
        check_same(g, {"x": rand(rng, n, 16)})


def test_views_are_index_math_not_kernels(rng):
    g = Graph()
    x = g.add_input("x", TensorType((2, 3, 4), "float32"))
    t = ops.apply(g, "Transpose", [x], perm=(0, 2, 1)).output
    r = ops.apply(g, "Reshape", [t], shape=(2, 12)).output
    g.add_output(ops.apply(g, "Exp", [r]).output, "y")
    ks = kernels(g)
    assert len(ks) == 1 and [n.op.value for n in ks[0].nodes] == ["Transpose", "Reshape", "Exp"]
    check_same(g, {"x": rand(rng, 2, 3, 4)})


def test_concat_inputs_are_written_in_place(rng):
    """Dense-block style: every conv writes into its slice of the outer concat buffer."""
    g = Graph()
    x = g.add_input("x", TensorType((2, 4, 5, 5), "float32"))
    feats = x
    for i in range(3):
        c = feats.shape[1]
        h = ops.apply(g, "Relu", [conv(g, feats, g.add_constant(rand(rng, 2, c, 3, 3)))]).output
        feats = ops.apply(g, "Concat", [feats, h] if i else [ops.apply(g, "Relu", [x]).output, h], axis=1).output
    g.add_output(ops.apply(g, "Sigmoid", [feats]).output, "y")
    groups = partition(g, fuse=True)
    assert sum(gr.kind is Kind.PLACED for gr in groups) == 3
    assert not any(n.op.value == "Concat" for gr in groups if gr.kind is not Kind.PLACED for n in gr.nodes)
    m = check_same(g, {"x": rand(rng, 2, 4, 5, 5)})
    assert "slices" in m.plan and len(m.plan["slices"]) == 6


def test_fusion_never_creates_a_cycle(rng):
    """a -> relu -> conv and a -> conv' -> add(relu..): merging across the diamond is refused."""
    g = Graph()
    x = g.add_input("x", TensorType((1, 4, 5, 5), "float32"))
    a = ops.apply(g, "Exp", [x]).output
    c = conv(g, a, g.add_constant(rand(rng, 4, 4, 3, 3)))
    y = ops.apply(g, "Add", [a, c]).output
    g.add_output(y, "y")
    ks = kernels(g)
    order = {id(n): i for i, k in enumerate(ks) for n in k.nodes}
    for k in ks:
        for n in k.nodes:
            for v in n.inputs:
                if v is not None and v.producer is not None and id(v.producer) not in {id(m) for m in k.nodes}:
                    assert order[id(v.producer)] < order[id(n)]
    check_same(g, {"x": rand(rng, 1, 4, 5, 5)})


def test_why_not_fused_is_reported(rng):
    g = Graph()
    x = g.add_input("x", TensorType((1, 4, 6, 6), "float32"))
    c = ops.apply(g, "Relu", [conv(g, x, g.add_constant(rand(rng, 4, 4, 3, 3)))]).output
    p = ops.apply(g, "MaxPool", [c], kernel_shape=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0),
                  dilations=(1, 1)).output
    g.add_output(p, "y")
    m = cortado.compile(g, target="interpreter")
    assert m.stats["kernels"] == 2
    assert any("MaxPool" in line for line in m.stats["why_not_fused"])


@pytest.mark.parametrize("n", [1, 3])
def test_symbolic_batch_fused_block(rng, n):
    g = resnet_block(rng, Sym("N"))
    check_same(g, {"x": rand(rng, n, 8, 6, 6)})


def attention_graph(rng, b=2, h=3, s=20, d=16, mask=True, batch=None):
    """Exporter-style attention: heads split by Reshape/Transpose, K transposed, scale, mask."""
    g = Graph()
    n = batch if batch is not None else b
    x = g.add_input("x", TensorType((n, s, h * d), "float32"))
    heads = []
    for name in ("q", "k", "v"):
        w = g.add_constant((rand(rng, h * d, h * d) / np.sqrt(h * d)).astype(np.float32), f"w_{name}")
        t = ops.apply(g, "MatMul", [x, w]).output
        t = ops.apply(g, "Reshape", [t], shape=(n, s, h, d)).output
        heads.append(ops.apply(g, "Transpose", [t], perm=(0, 2, 1, 3)).output)
    q, k, v = heads
    kt = ops.apply(g, "Transpose", [k], perm=(0, 1, 3, 2)).output
    sc = ops.apply(g, "MatMul", [q, kt]).output
    sc = ops.apply(g, "Div", [sc, g.add_constant(np.float32(np.sqrt(d)))]).output
    if mask:
        m = g.add_input("mask", TensorType((n, 1, 1, s), "float32"))
        sc = ops.apply(g, "Add", [sc, m]).output
    p = ops.apply(g, "Softmax", [sc], axis=-1).output
    ctx = ops.apply(g, "MatMul", [p, v]).output
    ctx = ops.apply(g, "Transpose", [ctx], perm=(0, 2, 1, 3)).output
    ctx = ops.apply(g, "Reshape", [ctx], shape=(n, s, h * d)).output
    wo = g.add_constant((rand(rng, h * d, h * d) / np.sqrt(h * d)).astype(np.float32), "w_o")
    g.add_output(ops.apply(g, "MatMul", [ctx, wo]).output, "y")
    return g


def attention_feeds(rng, b=2, s=20, hd=48):
    mask = np.where(rng.random((b, 1, 1, s)) < 0.2, -1e4, 0.0).astype(np.float32)
    return {"x": rand(rng, b, s, hd), "mask": mask}


def test_attention_is_one_flash_kernel(rng):
    g = attention_graph(rng)
    ks = kernels(g)
    att = [k for k in ks if k.kind is Kind.ATTENTION]
    assert len(att) == 1
    assert [n.op.value for n in att[0].nodes if n.op.value in ("MatMul", "Div", "Add", "Softmax")] == \
        ["MatMul", "Div", "Add", "Softmax", "MatMul"]
    assert len(ks) == 5   # q, k, v projections, attention, output projection (heads merged by index math)
    m = check_same(g, attention_feeds(rng))
    assert "attention" in {l["kind"] for l in m.stats["per_kernel"]}


def test_attention_with_long_keys_and_symbolic_batch(rng):
    g = attention_graph(rng, b=None, s=70, mask=False, batch=Sym("B"))
    for b in (1, 2):
        check_same(g, {"x": rand(rng, b, 70, 48)})


@pytest.mark.parametrize("cols", [48, 9000])   # persistent rows, and rows walked in blocks
def test_reduction_with_an_epilogue_over_its_input_is_one_kernel(rng, cols):
    """RMS norm as exporters write it: x / sqrt(mean(x*x) + eps) * g."""
    g = Graph()
    x = g.add_input("x", TensorType((Sym("N"), cols), "float32"))
    sq = ops.apply(g, "Mul", [x, x]).output
    ms = ops.apply(g, "ReduceMean", [sq], axes=(1,), keepdims=1).output
    rms = ops.apply(g, "Sqrt", [ops.apply(g, "Add", [ms, g.add_constant(np.float32(1e-6))]).output]).output
    y = ops.apply(g, "Mul", [ops.apply(g, "Div", [x, rms]).output, g.add_constant(rand(rng, cols))]).output
    g.add_output(y, "y")
    g.add_output(rms, "rms")          # the statistic itself leaves the kernel too
    ks = kernels(g)
    assert len(ks) == 1 and ks[0].kind is Kind.REDUCTION
    for n in (1, 3):
        check_same(g, {"x": rand(rng, n, cols)})


def test_projection_shortcut_runs_inside_the_main_branch_conv(rng):
    """conv3(a) + BN + shortcut_conv(x) + BN -> Add -> Relu: one kernel, two accumulators."""
    g = Graph()
    x = g.add_input("x", TensorType((1, 6, 8, 8), "float32"))
    a = ops.apply(g, "Relu", [conv(g, x, g.add_constant(rand(rng, 4, 6, 3, 3)), stride=2)]).output
    main = bn(g, conv(g, a, g.add_constant(rand(rng, 8, 4, 1, 1)), pad=0), rng)
    short = bn(g, conv(g, x, g.add_constant(rand(rng, 8, 6, 1, 1)), stride=2, pad=0), rng)
    g.add_output(ops.apply(g, "Relu", [ops.apply(g, "Add", [main, short]).output]).output, "y")
    ks = kernels(g)
    assert [k.kind for k in ks] == [Kind.CONV, Kind.CONV]
    assert len(ks[1].roles.extra) == 1
    check_same(g, {"x": rand(rng, 1, 6, 8, 8)})
