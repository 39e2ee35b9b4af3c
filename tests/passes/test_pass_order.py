"""Pass-order robustness: the cleanup passes compute the same function in any order, and run
to a fixed point in any order they reach the same graph."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cortado.ir import clone_graph
from cortado.ops import evaluate, verify
from cortado.pipeline import CLEANUP
from cortado.testing import compare_outputs, strategies, structure_key
from cortado.passes.manager import FixedPoint, PassManager

PASSES = list(CLEANUP.passes[:-1])      # dce, cse, fold_shapes, fold_constants, simplify


def _run(graph, steps):
    g = clone_graph(graph)
    PassManager(steps, verify=True).run(g)
    return g


@given(data=st.data())
def test_cleanup_in_any_order_computes_the_same_function(data):
    graph, feeds = data.draw(strategies.graphs_with_inputs(motifs=["duplicate", "neutral", "shape_chain",
                                                                   "reshape_chain", "noop", "transpose_pair"]))
    order = data.draw(st.lists(st.sampled_from(PASSES), min_size=1, max_size=8), label="passes")
    expected = evaluate(graph, feeds)
    once = _run(graph, order)
    assert not compare_outputs(expected, evaluate(once, feeds))


@given(data=st.data())
def test_cleanup_to_a_fixed_point_is_order_independent(data):
    graph, feeds = data.draw(strategies.graphs_with_inputs(motifs=["duplicate", "neutral", "shape_chain",
                                                                   "reshape_chain", "noop", "transpose_pair"]))
    order = data.draw(st.permutations(PASSES), label="order")
    reference = _run(graph, [FixedPoint("reference", tuple(PASSES), max_rounds=20)])
    other = _run(graph, [FixedPoint("other", tuple(order), max_rounds=20)])
    verify(other)
    assert not compare_outputs(evaluate(reference, feeds), evaluate(other, feeds))
    assert structure_key(reference) == structure_key(other), f"{reference}\n\nvs\n\n{other}"
