"""Generated kernels name their pointers by role, as the Triton tutorials do (code tier: key
lines of the real source, never whole files). Checked on the tiny CNN and on one BERT layer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cortado
from examples.model_zoo import bert_encoder

ROOT = Path(__file__).resolve().parents[2]


def _kernels(source: str) -> dict[str, list[str]]:
    """kernel name -> its pointer parameters, from ``def NAME(...)`` lines."""
    out = {}
    for name, params in re.findall(r"^def (\w+)\((.*)\):$", source, flags=re.M):
        out[name] = [p.strip() for p in params.split(",") if p.strip().endswith("_ptr")]
    return out


@pytest.fixture(scope="module")
def tiny_cnn():
    return _kernels(cortado.compile(str(ROOT / "examples" / "tiny_cnn.onnx"), target="interpreter").source)


@pytest.fixture(scope="module")
def bert_layer():
    model = bert_encoder(seq=16, hidden=64, heads=2, ffn=128, seed=0)
    return _kernels(cortado.compile(model, target="interpreter").source)


def test_conv_kernels_name_input_weight_bias_and_output(tiny_cnn):
    convs = {k: v for k, v in tiny_cnn.items() if k.startswith("conv")}
    assert convs, sorted(tiny_cnn)
    for name, ptrs in convs.items():
        assert ptrs[:3] == ["x_ptr", "w_ptr", "bias_ptr"] and ptrs[-1] == "out_ptr", (name, ptrs)


def test_gemm_kernels_name_their_operands(tiny_cnn, bert_layer):
    gemms = {k: v for k, v in {**tiny_cnn, **bert_layer}.items() if k.startswith(("reshape_gemm", "mat_mul_add"))}
    assert len(gemms) >= 3, sorted({**tiny_cnn, **bert_layer})
    for name, ptrs in gemms.items():
        assert ptrs[:2] in (["x_ptr", "w_ptr"], ["a_ptr", "b_ptr"]), (name, ptrs)
        assert "bias_ptr" in ptrs and ptrs[-1] == "out_ptr", (name, ptrs)


def test_bert_attention_reads_q_through_the_head_split(bert_layer):
    """Q, K and V are slices of one fused projection here: one buffer, named by its first role."""
    att = [v for k, v in bert_layer.items() if k.startswith("mat_mul_softmax")]
    assert len(att) == 1, sorted(bert_layer)
    assert att[0][0] == "q_ptr" and att[0][-1] == "out_ptr", att[0]


def test_bert_residual_adds_read_a_residual_pointer(bert_layer):
    with_residual = [k for k, v in bert_layer.items() if "residual_ptr" in v]
    assert len(with_residual) == 2, bert_layer


def _params(source: str, kernel_prefix: str) -> list[list[str]]:
    return [[p.split(":")[0].strip() for p in params.split(",")]
            for name, params in re.findall(r"^def (\w+)\((.*)\):$", source, flags=re.M) if name.startswith(kernel_prefix)]


@pytest.fixture(scope="module")
def sources():
    cnn = cortado.compile(str(ROOT / "examples" / "tiny_cnn.onnx"), target="interpreter").source
    bert = cortado.compile(bert_encoder(seq=16, hidden=64, heads=2, ffn=128, seed=0), target="interpreter").source
    return cnn, bert


def test_a_3x3_kernel_over_3_channels_keeps_three_size_arguments(sources):
    """conv1 of the tiny CNN: 3 input channels, a 3x3 kernel — C_in, KH and KW are three
    arguments (one merged ``s1`` before), and the reduction index is split into named lines."""
    cnn, _ = sources
    first = _params(cnn, "conv_relu_kernel_0")[0]
    assert {"C_in", "KH", "KW", "K", "M", "N"} <= set(first), first
    body = cnn[cnn.index("def conv_relu_kernel_0"):]
    body = body[:body.index("\n\n")]
    for line in ("kw = rk % KW", "kh = (rk // KW) % KH", "ci = rk // (KW * KH)"):
        assert line in body, body


def test_gemm_sizes_of_different_meaning_stay_apart(sources):
    """BERT's square projections have K == N == hidden; they stay two arguments."""
    _, bert = sources
    gemms = _params(bert, "mat_mul_add")
    assert gemms and all({"M", "N", "K"} <= set(p) for p in gemms), gemms
