"""Transpose sinking and cancellation."""

import numpy as np

from cortado.ir import Graph, Op, TensorType
from cortado.ops import apply
from cortado.testing import check_pass, check_pass_on, strategies
from cortado.passes.transpose_sinking import sink_transposes


def _count(g, op=Op.TRANSPOSE):
    return sum(1 for n in g.nodes if n.op is op)


def test_sink_transposes_preserves_semantics_and_never_adds_transposes(counted):
    def checked(g):
        before = _count(g)
        changed = sink_transposes(g)
        assert _count(g) <= before
        return changed

    p = counted(checked)
    check_pass(p, graphs=strategies.graphs(motifs=["transpose_pair", "nhwc_island", "duplicate", "neutral"]),
               idempotent=True)
    p.assert_exercised(0.2)


def test_transpose_sinks_through_elementwise_and_cancels():
    g = Graph()
    x = g.add_input("x", TensorType((1, 2, 3, 4), "float32"))
    t = apply(g, Op.TRANSPOSE, [x], perm=(0, 2, 3, 1)).output
    y = apply(g, Op.RELU, [t]).output
    y = apply(g, Op.ADD, [y, g.add_constant(np.arange(2, dtype=np.float32))]).output   # per-channel, NHWC
    y = apply(g, Op.SOFTMAX, [y], axis=3).output
    g.add_output(apply(g, Op.TRANSPOSE, [y], perm=(0, 3, 1, 2)).output, "y")
    out = check_pass_on(sink_transposes, g)
    assert _count(out) == 0
    assert [n for n in out.nodes if n.op is Op.SOFTMAX][0].attrs.axis == 1


def test_two_transposed_operands_share_one_transpose():
    g = Graph()
    a = g.add_input("a", TensorType((2, 3, 4), "float32"))
    b = g.add_input("b", TensorType((2, 3, 4), "float32"))
    ta = apply(g, Op.TRANSPOSE, [a], perm=(2, 0, 1)).output
    tb = apply(g, Op.TRANSPOSE, [b], perm=(2, 0, 1)).output
    cat = apply(g, Op.CONCAT, [ta, tb], axis=2).output
    g.add_output(apply(g, Op.MUL, [cat, cat]).output, "y")
    out = check_pass_on(sink_transposes, g)
    assert _count(out) == 1 and out.nodes[-1].op is Op.TRANSPOSE


def test_shared_transposes_and_broadcasting_readers_stay():
    g = Graph()
    x = g.add_input("x", TensorType((2, 3), "float32"))
    t = apply(g, Op.TRANSPOSE, [x], perm=(1, 0)).output
    g.add_output(apply(g, Op.RELU, [t]).output, "r")
    g.add_output(apply(g, Op.TANH, [t]).output, "s")
    u = apply(g, Op.TRANSPOSE, [x], perm=(1, 0)).output
    g.add_output(apply(g, Op.ADD, [u, g.add_constant(np.zeros((4, 1, 1), np.float32))]).output, "grown")
    assert not sink_transposes(g)
