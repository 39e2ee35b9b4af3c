"""The IR keeps use-def chains consistent and refuses edits that would break them."""

import numpy as np
import pytest

from cortado import ops
from cortado.ir import Graph, IRError, TensorType, VerificationError, to_networkx, verify_structure


def small_graph():
    g = Graph("g")
    x = g.add_input("x", TensorType((2, 3), "float32"))
    c = g.add_constant(np.ones((2, 3), np.float32), "c")
    a = ops.apply(g, "Add", [x, c]).output
    n1 = ops.apply(g, "Neg", [a]).output
    n2 = ops.apply(g, "Neg", [n1]).output
    g.add_output(n2, "y")
    return g, x, c, a, n1, n2


def test_uses_track_edges():
    g, x, c, a, n1, n2 = small_graph()
    assert [u.op for u, _ in a.uses] == ["Neg"]
    n2.producer.replace_input(0, a)
    assert n1.uses == ()
    assert (n2.producer, 0) in a.uses
    ops.verify(g)


def test_remove_refuses_used_node_and_names_user():
    g, x, c, a, n1, n2 = small_graph()
    with pytest.raises(IRError, match="still used by"):
        g.remove(a.producer)
    with pytest.raises(IRError, match="graph output"):
        n2.producer.replace_input(0, a)
        g.remove(n2.producer)


def test_drop_double_neg_pass_from_design():
    """The example pass of DESIGN.md works against this IR."""
    g, x, c, a, n1, n2 = small_graph()

    def drop_double_neg(graph):
        changed = False
        for node in list(graph.nodes):
            src = node.inputs[0].producer if node.op == "Neg" else None
            if src is not None and src.op == "Neg":
                node.outputs[0].replace_all_uses_with(src.inputs[0])
                changed = True
        graph.remove_unused()
        return changed

    feeds = {"x": np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)}
    before = ops.evaluate(g, feeds)["y"]
    assert drop_double_neg(g)
    ops.verify(g)
    assert [n.op for n in g.nodes] == ["Add"]
    np.testing.assert_array_equal(ops.evaluate(g, feeds)["y"], before)
    assert g.output_names == ["y"]


def test_toposort_restores_order_and_detects_cycles():
    g, x, c, a, n1, n2 = small_graph()
    g._nodes.reverse()
    with pytest.raises(VerificationError, match="later node"):
        verify_structure(g)
    g.toposort()
    ops.verify(g)
    a.producer.replace_input(0, n2)   # a now depends on its own consumer chain
    with pytest.raises(IRError, match="cycle"):
        g.toposort()


def test_verify_catches_stale_types():
    g, x, c, a, n1, n2 = small_graph()
    n1.type = TensorType((3, 2), "float32")
    with pytest.raises(VerificationError, match="re-infers"):
        ops.verify(g)


def test_constants_are_read_only():
    g = Graph()
    c = g.add_constant(np.zeros(3, np.float32))
    with pytest.raises(ValueError):
        c.const[0] = 1.0


def test_networkx_view_is_deterministic():
    g, *_ = small_graph()
    nx_g = to_networkx(g)
    assert list(nx_g.nodes) == [0, 1, 2]
    assert list(nx_g.edges) == [(0, 1), (1, 2)]
