"""Every function of the numpy suite, compiled by cortado.jit on the interpreter, matches numpy
on random inputs (same structure, dtypes and shapes; values within per-dtype tolerance)."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado import ops
from jit_helpers import assert_same, skip_if_op_missing
from jit_suite import CASES


def test_the_suite_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matches_numpy(case):
    args = case.make(np.random.default_rng(0))
    f = cortado.jit(case.fn, static_argnames=case.static, target="interpreter")
    with np.errstate(all="ignore"):
        want = case.fn(*args, **case.kwargs)
    with skip_if_op_missing():
        got = f(*args, **case.kwargs)
    assert_same(got, want, args, case.name)
    assert f.cache_info().misses == 1


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_traced_graph_matches_numpy_on_the_reference_evaluator(case):
    """The trace alone, run by the IR's numpy reference evaluator: separates tracing mistakes
    from code generation ones."""
    args = case.make(np.random.default_rng(1))
    f = cortado.jit(case.fn, static_argnames=case.static)
    with skip_if_op_missing():
        graph = f.trace(*args, **case.kwargs)
    ops.verify(graph)
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    with np.errstate(all="ignore"):
        outs = ops.evaluate(graph, {v.name: a for v, a in zip(graph.inputs, arrays)})
        want = case.fn(*args, **case.kwargs)
    leaves = []

    def walk(x):
        if isinstance(x, (tuple, list)):
            for e in x:
                walk(e)
        elif isinstance(x, dict):
            for e in x.values():
                walk(e)
        elif isinstance(x, (np.ndarray, np.generic)):
            leaves.append(x)
    walk(want)
    got = [outs[n] for n in graph.output_names]
    assert len(got) == len(leaves)
    for i, (g, w) in enumerate(zip(got, leaves)):
        assert_same(g, np.asarray(w), args, f"{case.name} output {i}")
