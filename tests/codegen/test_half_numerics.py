"""Each kernel kind compiled with dtype=float16/bfloat16 against the float32 numpy reference,
unfused (O0) and fused (O2), plus bfloat16 on the interpreter bit for bit.

Tolerances are fractions of the output scale: a few units of the half type's roundoff, since
inputs, weights and every stored intermediate are rounded once and accumulation is float32.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import cortado
from cortado import ops
from cortado.ir import Graph, Op, TensorType
from cortado.codegen.aot import compile_jobs, jobs_for
from cortado.testing.reference import assert_close_to_scale

# 4 units of roundoff of the storage type, relative to the output's largest magnitude
# (measured: at most 0.65 of this)
LAYER_FRACTION = {"float16": 4 * 2.0 ** -11, "bfloat16": 4 * 2.0 ** -8}
BF16 = np.dtype(ml_dtypes.bfloat16)


def _const(g, rng, *shape, scale=1.0):
    return g.add_constant((rng.standard_normal(shape) * scale).astype(np.float32))


def conv_block() -> tuple[Graph, dict]:
    """conv+bias -> BN -> Relu, a depthwise conv -> Clip (ReLU6), both concatenated, max pool,
    global average pool: conv, window, placed concat and reduction kernels with epilogues."""
    rng = np.random.default_rng(0)
    g = Graph("conv_block")
    x = g.add_input("x", TensorType((2, 6, 11, 9), "float32"))
    conv = dict(strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1))
    c = ops.apply(g, Op.CONV, [x, _const(g, rng, 8, 6, 3, 3, scale=0.3), _const(g, rng, 8, scale=0.1)],
                  kernel_shape=(3, 3), group=1, **conv).output
    bn = [g.add_constant(rng.uniform(0.5, 1.5, 8).astype(np.float32)), _const(g, rng, 8, scale=0.1),
          _const(g, rng, 8, scale=0.1), g.add_constant(rng.uniform(0.5, 1.5, 8).astype(np.float32))]
    c = ops.apply(g, Op.RELU, [ops.apply(g, Op.BATCH_NORMALIZATION, [c] + bn, epsilon=1e-5).output]).output
    d = ops.apply(g, Op.CONV, [x, _const(g, rng, 6, 1, 3, 3, scale=0.5)], kernel_shape=(3, 3), group=6, **conv).output
    d = ops.apply(g, Op.CLIP, [d, g.add_constant(np.float32(0.0)), g.add_constant(np.float32(6.0))]).output
    cat = ops.apply(g, Op.CONCAT, [c, d], axis=1).output
    p = ops.apply(g, Op.MAX_POOL, [cat], kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), dilations=(1, 1),
                  ceil_mode=0).output
    g.add_output(p, "pooled")
    g.add_output(ops.apply(g, Op.GLOBAL_AVERAGE_POOL, [p]).output, "gap")
    return g, {"x": rng.standard_normal((2, 6, 11, 9)).astype(np.float32)}


def attention_block() -> tuple[Graph, dict]:
    """Batched MatMul -> scale -> Softmax -> MatMul, then Gemm + Gelu (Erf form)."""
    rng = np.random.default_rng(1)
    g = Graph("attention_block")
    q = g.add_input("q", TensorType((2, 3, 17, 16), "float32"))
    k = g.add_input("k", TensorType((2, 3, 16, 17), "float32"))
    v = g.add_input("v", TensorType((2, 3, 17, 16), "float32"))
    s = ops.apply(g, Op.MATMUL, [q, k]).output
    s = ops.apply(g, Op.MUL, [s, g.add_constant(np.float32(0.25))]).output
    p = ops.apply(g, Op.SOFTMAX, [s], axis=-1).output
    ctx = ops.apply(g, Op.MATMUL, [p, v]).output
    flat = ops.apply(g, Op.RESHAPE, [ctx], shape=(102, 16)).output
    h = ops.apply(g, Op.GEMM, [flat, _const(g, rng, 24, 16, scale=0.25), _const(g, rng, 24, scale=0.1)],
                  alpha=1.0, beta=1.0, transA=0, transB=1).output
    g.add_output(ops.apply(g, Op.GELU, [h], approximate="none").output, "h")
    g.add_output(p, "probs")
    feeds = {n: rng.standard_normal(shape).astype(np.float32) for n, shape in
             (("q", (2, 3, 17, 16)), ("k", (2, 3, 16, 17)), ("v", (2, 3, 17, 16)))}
    return g, feeds


def flash_block() -> tuple[Graph, dict]:
    """Heads split by Reshape/Transpose, Q·Kᵀ / sqrt(d) + mask -> Softmax -> ·V: one fused
    attention kernel at O2 (half tiles into both dots, float32 online softmax)."""
    rng = np.random.default_rng(2)
    g = Graph("flash_block")
    x = g.add_input("x", TensorType((2, 19, 32), "float32"))
    mask = g.add_input("mask", TensorType((2, 1, 1, 19), "float32"))

    def heads(perm):
        h = ops.apply(g, Op.MATMUL, [x, _const(g, rng, 32, 32, scale=32 ** -0.5)]).output
        h = ops.apply(g, Op.RESHAPE, [h], shape=(2, 19, 4, 8)).output
        return ops.apply(g, Op.TRANSPOSE, [h], perm=perm).output

    q, kt, v = heads((0, 2, 1, 3)), heads((0, 2, 3, 1)), heads((0, 2, 1, 3))
    s = ops.apply(g, Op.DIV, [ops.apply(g, Op.MATMUL, [q, kt]).output, g.add_constant(np.float32(8 ** 0.5))]).output
    p = ops.apply(g, Op.SOFTMAX, [ops.apply(g, Op.ADD, [s, mask]).output], axis=-1).output
    ctx = ops.apply(g, Op.TRANSPOSE, [ops.apply(g, Op.MATMUL, [p, v]).output], perm=(0, 2, 1, 3)).output
    g.add_output(ops.apply(g, Op.RESHAPE, [ctx], shape=(2, 19, 32)).output, "ctx")
    m = np.zeros((2, 1, 1, 19), np.float32)
    m[..., 15:] = -10000.0
    return g, {"x": rng.standard_normal((2, 19, 32)).astype(np.float32), "mask": m}


@pytest.mark.parametrize("opt_level", [0, 2])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("build", [conv_block, attention_block, flash_block])
def test_half_kernels_match_float32_reference(build, dtype, opt_level):
    g, feeds = build()
    expected = ops.evaluate(g, feeds)
    m = cortado.compile(g, target="interpreter", dtype=dtype, opt_level=opt_level)
    got = m.run(feeds)
    for name in g.output_names:
        assert got[name].dtype == np.float32
        assert_close_to_scale(got[name], expected[name], dtype, what=f"{g.name}:{name}",
                              fraction=LAYER_FRACTION[dtype])


def test_bfloat16_matmul_and_rounding_on_the_interpreter():
    """The interpreter keeps bfloat16 as raw bits: its dot multiplied the bits (values ~1e10)
    and its float32 -> bfloat16 conversion truncated. Both must now match a GPU: the dot of
    bfloat16 tiles exactly as float32 math, and stores rounded to nearest even."""
    rng = np.random.default_rng(0)
    g = Graph()
    a = g.add_input("a", TensorType((37, 70), "bfloat16"))
    b = g.add_input("b", TensorType((70, 45), "bfloat16"))
    x = g.add_input("x", TensorType((1000,), "float32"))
    g.add_output(ops.apply(g, Op.MATMUL, [a, b]).output, "ab")
    g.add_output(ops.apply(g, Op.CAST, [x], to="bfloat16").output, "rounded")
    A, B = rng.standard_normal((37, 70)).astype(BF16), rng.standard_normal((70, 45)).astype(BF16)
    X = rng.standard_normal(1000).astype(np.float32)
    got = cortado.compile(g, target="interpreter", opt_level=0).run({"a": A, "b": B, "x": X})
    exact = A.astype(np.float64) @ B.astype(np.float64)
    err = np.abs(got["ab"].astype(np.float64) - exact)
    assert np.all(err <= 2.0 ** -8 * np.abs(exact) + 1e-5), "one bfloat16 rounding of a float32 accumulation"
    np.testing.assert_array_equal(got["rounded"].view(np.uint16), X.astype(BF16).view(np.uint16))


def test_half_kernels_compile_for_sm80_and_sm90():
    """Every kernel of the blocks compiled with half storage. GEMM and attention templates
    (half tiles into tensor-core dots: mma on sm_80, wgmma on sm_90) for each dtype on both
    architectures; the rest for float16 on sm_80 and bfloat16 on sm_90 — the conv template
    included, whose input-cast prologue takes 6-9 s per compile, so each dtype meets each
    architecture once."""
    jobs, seen = [], set()
    for build in (conv_block, attention_block, flash_block):
        for dtype, other_arch in (("float16", "sm_80"), ("bfloat16", "sm_90")):
            m = cortado.compile(build()[0], target="interpreter", dtype=dtype, opt_level=2)
            kinds = {k["name"]: k["kind"] for k in m.plan["kernels"]}
            seen |= set(kinds.values())
            jobs += [j for j in jobs_for(m.source, m.plan, ["sm_80", "sm_90"])
                     if kinds[j.kernel] in ("gemm", "attention") or j.arch == other_arch]
    assert seen == {"pointwise", "reduction", "gemm", "conv", "attention"}
    built = compile_jobs(jobs, workers=2)
    assert len(built) == len(jobs) >= 20
    assert all(k.cubin and len(k.cubin) > 1000 for k in built)
