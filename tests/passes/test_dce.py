"""Dead-code elimination: property test plus before/after cases."""

import numpy as np

from cortado.ir import Graph, Op, TensorType
from cortado.ops import apply
from cortado.testing import check_pass
from cortado.passes.dce import dce


def test_dce_preserves_semantics(counted):
    p = counted(dce)
    check_pass(p, idempotent=True)
    p.assert_exercised(0.1)


def test_dce_removes_dead_branches_and_constants():
    g = Graph()
    x = g.add_input("x", TensorType((2, 3), "float32"))
    c = g.add_constant(np.ones((2, 3), np.float32))
    live = apply(g, Op.RELU, [x]).output
    dead = apply(g, Op.ADD, [x, c]).output
    apply(g, Op.TANH, [dead])
    g.add_output(live, "y")
    assert dce(g)
    assert [n.op for n in g.nodes] == [Op.RELU]
    assert not g.constants
    assert not dce(g)


def test_dce_keeps_inputs_and_constant_outputs():
    g = Graph()
    x = g.add_input("x", TensorType((2,), "float32"))
    c = g.add_constant(np.arange(2, dtype=np.float32))
    g.add_output(x, "same")
    g.add_output(c, "const")
    assert not dce(g)
    assert g.outputs == (x, c) and list(g.constants.values()) == [c]
