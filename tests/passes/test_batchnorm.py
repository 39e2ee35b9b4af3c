"""Batch-norm and per-channel affine folding."""

import numpy as np

from cortado.ir import Graph, Op, TensorType
from cortado.ops import apply
from cortado.testing import check_pass, check_pass_on, strategies
from cortado.passes.batchnorm import fold_batchnorm

CONV = dict(kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), group=1)


def test_fold_batchnorm_preserves_semantics(counted):
    p = counted(fold_batchnorm)
    ops = [Op.RELU, Op.ADD, Op.MUL, Op.CONV, Op.GEMM, Op.BATCH_NORMALIZATION, Op.MAX_POOL, Op.TRANSPOSE,
           Op.RESHAPE, Op.SIGMOID, Op.CONCAT]
    check_pass(p, graphs=strategies.graphs(ops=ops, motifs=["conv_affine", "duplicate", "neutral"]), idempotent=True)
    p.assert_exercised(0.2)


def _bn_params(g, c, rng):
    return [g.add_constant(a.astype(np.float32)) for a in
            (rng.uniform(0.5, 1.5, c), rng.normal(size=c), rng.normal(size=c), rng.uniform(0.5, 1.5, c))]


def _conv_graph(bias=True):
    rng = np.random.default_rng(0)
    g = Graph()
    x = g.add_input("x", TensorType((1, 3, 5, 5), "float32"))
    w = g.add_constant(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    b = g.add_constant(rng.normal(size=4).astype(np.float32), "b") if bias else None
    return g, x, w, b, rng


def test_conv_bn_folds_into_new_weights():
    for bias in (True, False):
        g, x, w, b, rng = _conv_graph(bias)
        y = apply(g, Op.CONV, [x, w, b], **CONV).output
        g.add_output(apply(g, Op.BATCH_NORMALIZATION, [y, *_bn_params(g, 4, rng)]).output, "y")
        out = check_pass_on(fold_batchnorm, g)
        assert [n.op for n in out.nodes] == [Op.CONV]
        assert out.nodes[0].inputs[2] is not None


def test_shared_weight_is_never_overwritten():
    g, x, w, b, rng = _conv_graph()
    before = w.const.copy()
    y1 = apply(g, Op.CONV, [x, w, b], **CONV).output
    y2 = apply(g, Op.CONV, [x, w, b], **CONV).output
    g.add_output(apply(g, Op.BATCH_NORMALIZATION, [y1, *_bn_params(g, 4, rng)]).output, "y1")
    g.add_output(y2, "y2")
    assert fold_batchnorm(g)
    conv1, conv2 = [n for n in g.nodes if n.op is Op.CONV]
    assert conv2.inputs[1] is w and conv1.inputs[1] is not w
    np.testing.assert_array_equal(w.const, before)


def test_conv_result_with_other_users_decomposes_bn_instead():
    g, x, w, b, rng = _conv_graph()
    y = apply(g, Op.CONV, [x, w, b], **CONV).output
    g.add_output(apply(g, Op.BATCH_NORMALIZATION, [y, *_bn_params(g, 4, rng)]).output, "bn")
    g.add_output(y, "conv")
    out = check_pass_on(fold_batchnorm, g)
    assert [n.op for n in out.nodes] == [Op.CONV, Op.MUL, Op.ADD]
    g2 = check_pass_on(lambda gr: fold_batchnorm(gr, decompose=False), g)
    assert Op.BATCH_NORMALIZATION in [n.op for n in g2.nodes]


def test_gemm_bn_and_conv_affine_fold():
    rng = np.random.default_rng(1)
    g = Graph()
    a = g.add_input("a", TensorType((3, 5), "float32"))
    w = g.add_constant(rng.normal(size=(4, 5)).astype(np.float32))
    c = g.add_constant(rng.normal(size=(3, 1)).astype(np.float32))
    y = apply(g, Op.GEMM, [a, w, c], transB=1, alpha=0.5, beta=2.0).output
    g.add_output(apply(g, Op.BATCH_NORMALIZATION, [y, *_bn_params(g, 4, rng)]).output, "gemm")
    g2, x, cw, cb, _ = _conv_graph(bias=False)
    z = apply(g2, Op.CONV, [x, cw], **CONV).output
    z = apply(g2, Op.MUL, [z, g2.add_constant(rng.uniform(0.5, 2, (4, 1, 1)).astype(np.float32))]).output
    z = apply(g2, Op.ADD, [g2.add_constant(rng.normal(size=(1, 4, 1, 1)).astype(np.float32)), z]).output
    g2.add_output(z, "conv")
    assert [n.op for n in check_pass_on(fold_batchnorm, g).nodes] == [Op.GEMM]
    assert [n.op for n in check_pass_on(fold_batchnorm, g2).nodes] == [Op.CONV]


def test_spatially_varying_scale_is_not_folded():
    g, x, w, b, rng = _conv_graph()
    y = apply(g, Op.CONV, [x, w, b], **CONV).output
    g.add_output(apply(g, Op.MUL, [y, g.add_constant(rng.normal(size=(4, 5, 1)).astype(np.float32))]).output, "y")
    assert not fold_batchnorm(g)
