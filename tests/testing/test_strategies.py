"""The random-graph strategies: valid graphs, every supported op and motif reachable."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from cortado.ir import Op, SymExpr
from cortado.ops import evaluate, verify
from cortado.testing import strategies
from cortado.testing.opgen import MOTIFS

FIND = settings(max_examples=300, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))


@given(strategies.graphs_with_inputs(symbolic_batch=True))
def test_drawn_graphs_verify_and_evaluate(case):
    graph, feeds = case
    verify(graph)
    out = evaluate(graph, feeds)
    assert list(out) == graph.output_names
    for v in graph.inputs:
        assert feeds[v.name].dtype == v.dtype.numpy and feeds[v.name].ndim == v.type.rank


@pytest.mark.parametrize("op", strategies.supported_ops() + strategies.supported_ops(strategies.DISCRETE,
                                                                                     registered_only=True), ids=str)
def test_every_supported_op_is_drawn(op):
    find(strategies.graphs(ops=[op], motifs=False), lambda g: any(n.op is op for n in g.nodes), settings=FIND)


def _pairs(g, first, second):
    return [(n.inputs[0].producer, n) for n in g.nodes if n.op is second and n.inputs
            and n.inputs[0] is not None and n.inputs[0].producer is not None and n.inputs[0].producer.op is first]


MOTIF_SIGNS = {
    "duplicate": lambda g: len({(n.op, tuple(map(id, n.inputs)), n.attrs) for n in g.nodes}) < len(g),
    "neutral": lambda g: any(v.const is not None and v.const.size and (np.all(v.const == 0) or np.all(v.const == 1))
                             for v in g.constants.values()),
    "transpose_pair": lambda g: bool(_pairs(g, Op.TRANSPOSE, Op.TRANSPOSE)) or any(
        n.op is Op.TRANSPOSE and any(u.op is Op.TRANSPOSE for u in n.output.users) for n in g.nodes),
    "nhwc_island": lambda g: any(n.op is Op.TRANSPOSE and n.attrs.perm == (0, 2, 3, 1) for n in g.nodes),
    "reshape_chain": lambda g: bool(_pairs(g, Op.RESHAPE, Op.RESHAPE)),
    "conv_affine": lambda g: bool(_pairs(g, Op.CONV, Op.BATCH_NORMALIZATION) or _pairs(g, Op.CONV, Op.MUL)
                                  or _pairs(g, Op.GEMM, Op.BATCH_NORMALIZATION)),
    "noop": lambda g: any(n.op in (Op.IDENTITY, Op.DROPOUT) for n in g.nodes),
    "shape_chain": lambda g: any(v.dtype.is_int for v in g.constants.values()),
    "siblings": lambda g: any(sum(u.op in (Op.MATMUL, Op.CONV) and u.inputs[0] is v for u in v.users) >= 2
                              for v in g.values()),
    "absorbing": lambda g: any(n.op is Op.MUL and any(v.is_constant and v.const.size and not v.const.any()
                                                      for v in n.inputs) for n in g.nodes),
    "near_duplicate": lambda g: any(a.op is b.op and a.inputs[:1] == b.inputs[:1] and a.attrs != b.attrs
                                    for a in g.nodes for b in g.nodes),
    "constant_expr": lambda g: any(n.inputs and all(v is not None and v.is_constant for v in n.inputs)
                                   for n in g.nodes),
    "square": lambda g: bool([p for p, n in _pairs(g, Op.MUL, Op.SQRT) if p.inputs[0] is p.inputs[1]]),
    "scaled_activation": lambda g: bool(_pairs(g, Op.MUL, Op.RELU) or _pairs(g, Op.MUL, Op.ELU)),
    "shared_constant": lambda g: any(v.is_constant and sum(u.op in (Op.SUB, Op.DIV) for u in v.users) >= 1
                                     and len(v.users) >= 2 for v in g.values()),
}


@pytest.mark.parametrize("name", sorted(MOTIFS))
def test_every_motif_builds_its_pattern(name):
    find(strategies.graphs(motifs=[name], ops=[Op.RELU, Op.SOFTMAX, Op.LEAKY_RELU]), MOTIF_SIGNS[name],
         settings=FIND)


@pytest.mark.parametrize("targets", [[Op.SUB], [Op.GEMM], [Op.REDUCE_SUM, Op.SHAPE], ["Softmax"]], ids=str)
def test_targeted_graphs_contain_their_targets_and_verify(targets):
    want = {Op(t) for t in targets}

    @settings(max_examples=40, database=None, deadline=None)
    @given(strategies.graphs_with_inputs(targets=targets, symbolic_batch=None))
    def check(case):
        graph, feeds = case
        verify(graph)
        evaluate(graph, feeds)
        hits.append(any(n.op in want for n in graph.nodes))

    hits = []
    check()
    assert sum(hits) >= 0.8 * len(hits)


def test_symbolic_batch_drawn_per_graph():
    find(strategies.graphs(symbolic_batch=None), lambda g: not all(v.type.is_static for v in g.inputs),
         settings=FIND)
    find(strategies.graphs(symbolic_batch=None), lambda g: all(v.type.is_static for v in g.inputs), settings=FIND)


def test_graphs_have_dead_branches_and_odd_outputs():
    find(strategies.graphs(), lambda g: any(not o.uses and not o.is_graph_output for n in g.nodes for o in n.outputs),
         settings=FIND)
    find(strategies.graphs(), lambda g: any(v.producer is None for v in g.outputs), settings=FIND)
    find(strategies.graphs(), lambda g: len(g.outputs) > 1, settings=FIND)


@given(st.data())
def test_symbolic_dims_are_bound_consistently(data):
    graph = data.draw(strategies.graphs(symbolic_batch=True, max_inputs=2))
    feeds = data.draw(strategies.inputs_for(graph))
    sizes = {feeds[v.name].shape[i] for v in graph.inputs for i, d in enumerate(v.shape) if isinstance(d, SymExpr)}
    assert len(sizes) <= 1


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="no random-graph generator for Resize"):
        strategies.supported_ops([Op.RESIZE])
    with pytest.raises(ValueError, match="unknown motif"):
        find(strategies.graphs(motifs=["nope"]), lambda g: True)
    assert not set(strategies.DISCRETE) & set(strategies.supported_ops())


def test_every_listed_op_has_a_generator():
    listed = set(strategies.CONTINUOUS) | set(strategies.DISCRETE)
    assert listed <= set(strategies.GENERATORS)
    assert not listed & set(strategies.missing_generators())


def test_a_motif_that_builds_every_target_is_drawn_more_often():
    """A pass that rewrites Relu(x * c) names Relu and Mul: the motif that builds both (and
    picks Relu over the other activations) is drawn more often than one that builds either."""
    from cortado.testing.strategies import _target_steps

    ops = strategies.supported_ops()
    _, motifs = _target_steps([Op.RELU, Op.MUL], ops, strategies.GENERATORS, list(MOTIFS))
    assert motifs.count("scaled_activation") > motifs.count("neutral") > 0
    _, alone = _target_steps([Op.MUL], ops, strategies.GENERATORS, list(MOTIFS))
    assert motifs.count("scaled_activation") > alone.count("scaled_activation")

    def relu_over_mul(g):
        return any(p.inputs[1].is_constant for p, _ in _pairs(g, Op.MUL, Op.RELU))

    find(strategies.graphs(targets=[Op.RELU, Op.MUL], motifs=["scaled_activation"], ops=[Op.TANH]),
         relu_over_mul, settings=FIND)
