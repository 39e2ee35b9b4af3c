"""``cortado debug-numerics``: every fused kernel against its unfused reference; the first
diverging group is named, with the right diagnosis for a broken lowering, a broken fusion and
a broken launch order."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
import cortado.passes.fusion
from cortado import passes
from cortado.codegen import exprs
from cortado import ops
from cortado.cli import main
from cortado.debug_numerics import check_numerics, render_text
from cortado.ir import Graph, Op, TensorType
from cortado.runtime.devices.interpreter import InterpreterDevice


def _net(rng) -> Graph:
    """conv+relu -> maxpool -> conv+tanh: three kernels at O2, Tanh only in the last one."""
    def rand(*s):
        return rng.standard_normal(s).astype(np.float32)

    def conv(g, x, w, b=None):
        return ops.apply(g, "Conv", [x, w, b], kernel_shape=w.shape[2:], strides=(1, 1), pads=(1,) * 4,
                         dilations=(1, 1), group=1).output

    g = Graph("net")
    x = g.add_input("x", TensorType((1, 3, 8, 8), "float32"))
    h = ops.apply(g, "Relu", [conv(g, x, g.add_constant(rand(4, 3, 3, 3)), g.add_constant(rand(4)))]).output
    h = ops.apply(g, "MaxPool", [h], kernel_shape=(2, 2), strides=(2, 2), pads=(0,) * 4, dilations=(1, 1)).output
    h = ops.apply(g, "Tanh", [conv(g, h, g.add_constant(rand(6, 4, 3, 3)))]).output
    g.add_output(h, "y")
    return g


def test_healthy_model_matches_everywhere(rng):
    report = check_numerics(_net(rng), target="interpreter")
    assert report.ok and report.first_divergence is None
    assert [g.kind for g in report.groups] == ["conv", "pointwise", "conv"]
    assert all(g.fused and g.unfused and g.in_model for g in report.groups)
    assert "all 3 kernels match the reference" in render_text(report)


def test_broken_op_lowering_names_its_group_and_node(rng, monkeypatch):
    monkeypatch.setitem(exprs._TABLE, Op.TANH, lambda c: f"({c.use('_tanh')}({c.args[0]}) * 1.5)")
    report = check_numerics(_net(rng), target="interpreter")
    bad = report.first_divergence
    assert not report.ok and bad is not None
    assert bad.index == 2 and bad.ops == ["Conv", "Tanh"]
    assert report.groups[0].ok and report.groups[1].ok
    assert not all(c.ok for c in bad.fused) and not all(c.ok for c in bad.unfused)
    assert bad.first_bad_node == bad.nodes[1]
    text = render_text(report)
    assert f"first divergence: kernel #2 {bad.kernel} (conv)" in text
    assert f"first at node {bad.nodes[1]}" in text and "max abs error" in text


def test_broken_epilogue_is_blamed_on_fusion(rng, monkeypatch):
    """Relu is wrong only when it runs on a template's accumulator: unfused kernels stay right."""
    relu = exprs._TABLE[Op.RELU]
    monkeypatch.setitem(exprs._TABLE, Op.RELU,
                        lambda c: f"({relu(c)} + 0.5)" if c.args[0].startswith("acc") else relu(c))
    report = check_numerics(_net(rng), target="interpreter")
    bad = report.first_divergence
    assert bad is not None and bad.index == 0 and bad.ops == ["Conv", "Relu"]
    assert not all(c.ok for c in bad.fused) and all(c.ok for c in bad.unfused)
    assert "how this group is fused" in render_text(report)


def test_kernels_storing_into_a_concat_buffer_are_checked_in_place(monkeypatch):
    """Sigmoid's kernel writes a box of the concat's buffer: a wrong value there is found."""
    g = Graph("cat")
    x = g.add_input("x", TensorType((2, 3, 4, 4), "float32"))
    a = ops.apply(g, "Relu", [x]).output
    b = ops.apply(g, "Sigmoid", [x]).output
    c = ops.apply(g, "Concat", [a, b], axis=1).output
    g.add_output(ops.apply(g, "Tanh", [c]).output, "y")
    assert cortado.compile(g, target="interpreter").plan["slices"], "the concat should be written in place"
    report = check_numerics(g, target="interpreter")
    assert report.ok
    monkeypatch.setitem(exprs._TABLE, Op.SIGMOID, lambda c: f"(1.0 - {c.use('_sigmoid')}({c.args[0]}))")
    report = check_numerics(g, target="interpreter")
    bad = report.first_divergence
    assert bad is not None and bad.ops == ["Sigmoid"] and not all(c.ok for c in bad.fused)


def test_wrong_launch_order_is_caught_inside_the_model(rng, monkeypatch):
    """Every kernel is right alone; running the last conv before the pool it reads is not."""
    partition = passes.fusion.partition

    def swapped(graph, fuse=False, **stage_options):
        groups = partition(graph, fuse, **stage_options)
        if fuse:
            groups[1], groups[2] = groups[2], groups[1]
        return groups

    monkeypatch.setattr(passes.fusion, "partition", swapped)
    # fresh buffers hold NaN, not whatever freed memory np.empty hands back: a run of the same
    # net earlier in this process can leave exactly the values the early launch should have read
    monkeypatch.setattr(InterpreterDevice, "alloc",
                        lambda self, nbytes: np.full(max(int(nbytes), 1), 0xFF, dtype=np.uint8))
    report = check_numerics(_net(rng), target="interpreter")
    bad = report.first_divergence
    assert bad is not None and bad.isolated_ok and not bad.ok
    assert bad.ops == ["Conv", "Tanh"]
    assert "matches alone but not inside the model" in render_text(report)


def test_cli_exit_codes(cortado, tiny, monkeypatch, capsys, tmp_path):
    r = cortado("debug-numerics", tiny, "--shape", "image=1x3x32x32", "--target", "interpreter", "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all 6 kernels match the reference" in r.stdout
    # a broken Relu lowering, in this process: exit 1, naming the first group with a Relu
    relu = exprs._TABLE[Op.RELU]
    monkeypatch.setitem(exprs._TABLE, Op.RELU, lambda c: f"({relu(c)} - 1.0)")
    code = main(["debug-numerics", str(tiny), "--shape", "image=1x3x32x32", "--target", "interpreter", "-q"])
    out = capsys.readouterr().out
    assert code == 1
    assert "first divergence: kernel #0 conv_relu_kernel_0 (conv)" in out
    assert "relu1_3 (Relu)" in out


@pytest.mark.parametrize("args,message", [
    (("missing.onnx",), "model file not found"),
    (("{tiny}", "--input", "nope=random"), "has no input 'nope'"),
    (("{tiny}", "--input", "image=missing.npy"), "input file not found"),
    (("{tiny}", "--shape", "image=1x3"), "rank"),
])
def test_cli_user_errors_exit_2(cortado, tiny, tmp_path, args, message):
    r = cortado("debug-numerics", *[a.format(tiny=tiny) for a in args], "-q", cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
