"""Property tests of the fusion partition and the memory plan on cortado.testing's random graphs.

The graph passes are checked by ``check_pass``; the partition and the memory plan are not
graph -> graph, so their invariants are stated here: every node in exactly one kernel group,
groups in an order where each reads only what earlier groups wrote, no two values alive at
once in one reused buffer — and the compiled result (fused, planned, generated, run on the
interpreter) equal to the numpy reference evaluation of the same graph.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cortado
from cortado import ops
from cortado.ir import Op, clone_graph
from cortado.pipeline import run_pipeline
from cortado.testing import strategies
from cortado.testing.reference import HOST_TARGETS, assert_close
from cortado.passes.fusion import partition
from cortado.passes.groups import Kind
from cortado.passes.memory import plan_memory


# random graphs mostly fuse into one or two kernels; graphs of ops that end kernels (contractions,
# reductions, windows) give the partition and the buffer reuse real work
BOUNDARY_OPS = [Op.MATMUL, Op.SOFTMAX, Op.REDUCE_SUM, Op.CONV, Op.MAX_POOL, Op.GEMM, Op.RELU, Op.ADD,
                Op.TRANSPOSE, Op.CONCAT, Op.LOG_SOFTMAX, Op.GLOBAL_AVERAGE_POOL]
GRAPHS = st.one_of(strategies.graphs(max_nodes=8, max_dim=3, max_spatial=5),
                   strategies.graphs(max_nodes=12, ops=BOUNDARY_OPS, motifs=False))
# what the memory plan's reuse works on: chains of kernel-ending ops. Random graphs are mostly
# wide and shallow (many outputs, dead branches, constant subexpressions that fold away), so
# after O2 few of them keep two kernel-written values with disjoint lifetimes; drawing the
# boundary ops as targets makes a third of the steps read the latest result (a chain) and
# an output read the last of them
REUSE_GRAPHS = strategies.graphs(min_nodes=6, max_nodes=12, ops=BOUNDARY_OPS, motifs=False, targets=BOUNDARY_OPS)


def _optimized(graph):
    g = clone_graph(graph)
    run_pipeline(g, opt_level=2)
    return g


@given(graph=GRAPHS, fuse=st.booleans())
def test_every_node_is_in_one_group_and_groups_run_after_their_inputs(graph, fuse):
    g = _optimized(graph) if fuse else graph
    groups = partition(g, fuse=fuse)
    seen = [id(n) for grp in groups for n in grp.nodes]
    assert sorted(seen) == sorted(id(n) for n in g.nodes), "a node is in no group, or in two"
    written: set[int] = {id(v) for v in g.inputs} | {id(v) for v in g.constants.values()}
    for grp in groups:
        inside = {id(n) for n in grp.nodes}
        for n in grp.nodes:
            for v in n.inputs:
                if v is not None and (v.producer is None or id(v.producer) not in inside):
                    assert id(v) in written, f"group {grp.name} reads {v.name} before any group writes it"
        written.update(id(v) for v in grp.outputs)
        for n in grp.nodes:          # what leaves the group (to another group or the caller) is written
            for v in n.outputs:
                leaves = v.is_graph_output or any(id(u) not in inside for u in v.users)
                assert not leaves or id(v) in {id(o) for o in grp.outputs}, \
                    f"{v.name} is read outside group {grp.name} but not written by it"


def check_buffers(g, groups, plan) -> None:
    """No buffer is written while a value placed in it earlier is still to be read."""
    born: dict[str, int] = {}
    last: dict[str, int] = {}

    def root(name: str) -> str:
        while name in plan.alias_of:
            name = plan.alias_of[name]
        return plan.slices[name].root if name in plan.slices else name

    for i, grp in enumerate(groups):
        if grp.kind in (Kind.ALIAS, Kind.PLACED):
            continue
        inside = {id(n) for n in grp.nodes}
        for n in grp.nodes:
            for v in n.inputs:
                if v is not None and (v.producer is None or id(v.producer) not in inside):
                    last[root(v.name)] = i
        for v in grp.outputs:
            born.setdefault(root(v.name), i)
    for src, _ in plan.copies:
        last[root(src)] = len(groups)
    sizes = {v.name: v.type.nbytes for v in g.values()}
    by_buffer: dict[int, list[tuple[int, int, str]]] = {}
    for name, buf in plan.placement.items():
        start = born.get(name, 0)
        by_buffer.setdefault(buf, []).append((start, max(last.get(name, start), start), name))
        assert plan.buffers[buf].nbytes >= sizes[name], f"{name} does not fit buffer {buf}"
    for buf, spans in by_buffer.items():
        spans.sort()
        for (s0, e0, a), (s1, e1, b) in zip(spans, spans[1:]):
            assert s1 > e0, f"buffer {buf}: {b} (written by kernel {s1}) while {a} is read until kernel {e0}"


@given(graph=st.one_of(GRAPHS, REUSE_GRAPHS))
def test_a_reused_buffer_never_holds_two_live_values(graph):
    g = _optimized(graph)
    groups = partition(g, fuse=True)
    check_buffers(g, groups, plan_memory(g, groups, reuse=True))


def test_the_buffer_property_catches_a_plan_that_frees_too_early():
    """Teeth: a planner that puts every kernel-written value in one buffer must be caught."""
    @settings(max_examples=100, derandomize=True, deadline=None)
    @given(graph=GRAPHS)
    def run(graph):
        g = _optimized(graph)
        groups = partition(g, fuse=True)
        plan = plan_memory(g, groups, reuse=True)
        if plan.buffers:
            plan.placement = dict.fromkeys(plan.placement, 0)
            plan.buffers[0].nbytes = max(b.nbytes for b in plan.buffers)
        check_buffers(g, groups, plan)

    with pytest.raises(AssertionError, match="while .* is read until kernel"):
        run()


@pytest.mark.parametrize("target", HOST_TARGETS)
@settings(deadline=None)
@given(graph=GRAPHS, data=st.data())
def test_compiled_fused_graphs_compute_what_the_reference_computes(graph, data, target):
    """Partition, memory plan, codegen and runtime together, at O2 on each host target."""
    feeds = data.draw(strategies.inputs_for(graph), label="inputs")
    expected = ops.evaluate(graph, feeds)
    m = cortado.compile(clone_graph(graph), target=target, opt_level=2)
    got = m.run(feeds)
    for name in graph.output_names:
        assert_close(np.asarray(got[name]), np.asarray(expected[name]), what=name)


def test_the_graphs_above_make_the_memory_plan_reuse_buffers():
    """The buffer property is only worth its examples if reuse happens in a fair share of
    them: counted over the draws aimed at it (``REUSE_GRAPHS``, half of the property's)."""
    reused = []

    @settings(max_examples=100, derandomize=True, deadline=None)
    @given(graph=REUSE_GRAPHS)
    def count(graph):
        g = _optimized(graph)
        plan = plan_memory(g, partition(g, fuse=True), reuse=True)
        reused.append(len(plan.placement) > len(plan.buffers))

    count()
    assert sum(reused) >= len(reused) // 20, f"buffers reused in {sum(reused)} of {len(reused)} graphs"
