"""Every kernel the model set produces compiles for sm_80 and sm_90 (no GPU), unfused and fused.

The nine light architectures at O0 (one kernel per op) and O2 (the fused kernels that run by
default: GEMM and conv templates with epilogues, projection shortcuts, placed concats,
reductions with prologues and epilogues), the MobileNetV2-style CNN and the BERT encoder layer
at O2 (depthwise windows, flash attention) — and fused groups drawn at random by hypothesis, so
fusion shapes no model has yet are compiled too. Kernels are shape-generic, so the models
share a few dozen distinct (kernel, config) pairs; each is compiled once per architecture in
worker processes.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings

import cortado
from cortado.codegen.aot import Job, compile_jobs, jobs_for
from cortado.ir import Op, clone_graph
from cortado.runtime.loader import load_kernels
from cortado.testing import strategies
from cortado.testing.models import LIGHT_MODELS, light_model
from examples.model_zoo import bert_encoder, mobilenet_v2

ARCHS = ["sm_80", "sm_90"]


def _kernel_text(source: str, name: str) -> str:
    m = re.search(rf"def {name}\(.*?(?=\n\n\n|\Z)", source, re.S)
    return m.group(0).replace(name, "KERNEL")


def _collect(model, opt_level: int, into: dict[tuple, Job]) -> None:
    m = cortado.compile(model, target="interpreter", opt_level=opt_level)
    check_sizes_not_specialized(m)
    for job in jobs_for(m.source, m.plan, ARCHS):
        into.setdefault((_kernel_text(m.source, job.kernel), job.config, job.arch), job)


def check_sizes_not_specialized(m) -> None:
    """Every integer argument of every kernel is in ``do_not_specialize``: one binary per kernel
    serves every size (the cuda runtime's launch cache keys on Triton's specialization anyway,
    so a kernel that forgot one would compile a variant per value, not run a wrong one)."""
    module = load_kernels(m.source, interpret=False)
    for k in m.plan["kernels"]:
        fn = getattr(module, k["name"])
        ints = [p.name for p in fn.params if not p.is_constexpr and not k["signature"][p.name].startswith(("*", "fp"))]
        loose = [name for name in ints if not fn.params[fn.arg_names.index(name)].do_not_specialize]
        assert not loose, f"{k['name']}: size arguments {loose} are not in do_not_specialize"


def _build_all(unique: dict[tuple, Job]) -> None:
    built = compile_jobs(list(unique.values()), workers=2)
    assert all(k.cubin and len(k.cubin) > 1000 for k in built)
    assert {k.arch for k in built} == set(ARCHS)


@pytest.mark.slow
def test_every_model_set_kernel_compiles_for_sm80_and_sm90():
    unique: dict[tuple, Job] = {}
    for name in LIGHT_MODELS:
        model = light_model(name)
        for level in (0, 2):
            _collect(model, level, unique)
    fused_only = len(unique)
    _collect(mobilenet_v2(resolution=32), 2, unique)
    _collect(bert_encoder(seq=16, hidden=64, heads=4, ffn=128), 2, unique)
    assert fused_only >= 40 and len(unique) > fused_only
    _build_all(unique)


# ops whose groups the pointwise and reduction generators build (and a contraction or window to
# anchor prologues and epilogues on)
FUSIBLE = [Op.RELU, Op.ADD, Op.MUL, Op.SUB, Op.DIV, Op.TANH, Op.SIGMOID, Op.EXP, Op.ABS, Op.MAX, Op.WHERE,
           Op.TRANSPOSE, Op.RESHAPE, Op.CONCAT, Op.SLICE, Op.SOFTMAX, Op.LOG_SOFTMAX, Op.REDUCE_SUM,
           Op.REDUCE_MAX, Op.REDUCE_MEAN, Op.LAYER_NORMALIZATION, Op.MATMUL, Op.CONV, Op.MAX_POOL]


def test_randomly_drawn_fused_groups_compile_for_sm80_and_sm90():
    unique: dict[tuple, Job] = {}

    @settings(max_examples=12, derandomize=True, deadline=None)
    @given(graph=strategies.graphs(ops=FUSIBLE, max_nodes=10))
    def collect(graph):
        _collect(clone_graph(graph), 2, unique)

    collect()
    assert len(unique) >= 12
    _build_all(unique)
