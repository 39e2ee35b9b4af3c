"""Common-subexpression elimination."""

import numpy as np

from cortado.ir import Graph, Op, TensorType
from cortado.ops import apply
from cortado.testing import check_pass
from cortado.passes.cse import cse


def test_cse_preserves_semantics(counted):
    p = counted(cse)
    check_pass(p, idempotent=True)
    p.assert_exercised(0.1)


def _graph():
    g = Graph()
    return g, g.add_input("a", TensorType((2, 2), "float32")), g.add_input("b", TensorType((2, 2), "float32"))


def test_cse_merges_commuted_duplicates_and_their_users():
    g, a, b = _graph()
    s1 = apply(g, Op.ADD, [a, b]).output
    s2 = apply(g, Op.ADD, [b, a]).output
    r1 = apply(g, Op.RELU, [s1]).output
    r2 = apply(g, Op.RELU, [s2]).output
    g.add_output(r1, "y1")
    g.add_output(r2, "y2")
    assert cse(g)
    assert [n.op for n in g.nodes] == [Op.ADD, Op.RELU]
    assert g.outputs[0] is g.outputs[1] and g.output_names == ["y1", "y2"]


def test_cse_keeps_nodes_with_different_attributes_or_order():
    g, a, b = _graph()
    g.add_output(apply(g, Op.TRANSPOSE, [a], perm=(1, 0)).output, "t")
    g.add_output(apply(g, Op.TRANSPOSE, [a], perm=(0, 1)).output, "i")
    g.add_output(apply(g, Op.SUB, [a, b]).output, "d1")
    g.add_output(apply(g, Op.SUB, [b, a]).output, "d2")
    assert not cse(g)
    assert len(g) == 4


def test_cse_merges_equal_constants_by_bytes():
    g, a, _ = _graph()
    c1 = g.add_constant(np.zeros((2, 2), np.float32))
    c2 = g.add_constant(np.zeros((2, 2), np.float32))
    c3 = g.add_constant(np.full((2, 2), -0.0, np.float32))   # equal to 0.0, different bytes
    for c in (c1, c2, c3):
        g.add_output(apply(g, Op.ADD, [a, c]).output, f"y{c.name}")
    assert cse(g)
    adds = [n for n in g.nodes]
    assert len(adds) == 2 and {n.inputs[1].name for n in adds} == {c1.name, c3.name}
