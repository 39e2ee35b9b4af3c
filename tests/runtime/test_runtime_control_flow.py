"""Control flow decided at run time (``runtime/control.py``): If with a data condition, Loop with
a data trip count and an early exit, a greedy decoder; each body compiled once as a sub-plan,
against onnxruntime at O0 and O2, and saved artifacts run without the compiler."""

from __future__ import annotations


import numpy as np
import pytest

import cortado
from cortado.testing.reference import assert_close, run_onnxruntime

import control_models as cm
from compiler_free import run_without_the_compiler


TARGET = "interpreter"      # and "cpu": every test here runs on both host targets
pytestmark = pytest.mark.usefixtures("every_host_target")

LEVELS = [0, 2]


def check(model, feeds_list, opt_level):
    m = cortado.compile(model, target=TARGET, opt_level=opt_level)
    names = [o.name for o in model.graph.output]
    for feeds in feeds_list:
        got = m.run(feeds)
        for name, exp in zip(names, run_onnxruntime(model, feeds)):
            assert got[name].dtype == exp.dtype, name
            assert_close(got[name], exp, exp.dtype.name, what=f"{name} at {[a.shape for a in feeds.values()]}")
    return m


def _if_feeds(rng):
    out = []
    for n, sign in ((2, 1.0), (3, -1.0), (5, 1.0), (1, -1.0)):
        out.append({"x": (sign * np.abs(rng.standard_normal((n, 4)))).astype(np.float32),
                    "y": rng.standard_normal((n, 4)).astype(np.float32)})
    return out


@pytest.mark.parametrize("same_shapes", [True, False])
@pytest.mark.parametrize("opt_level", LEVELS)
def test_if_on_data(opt_level, same_shapes):
    m = check(cm.if_model(same_shapes), _if_feeds(np.random.default_rng(0)), opt_level)
    step = next(s for s in m.plan["steps"] if "host" in s)
    assert step["host"] == "If" and len(m.plan["subplans"]) == 2
    assert any("kernel" in s for s in m.plan["subplans"][0]["plan"]["steps"])       # the branch has kernels


def _loop_feeds(rng):
    out = []
    for n, trips, limit in ((2, 5, 100.0), (3, 10, 1.5), (1, 0, 9.0), (4, 3, -1.0)):
        out.append({"M": np.array(trips, np.int64), "go": np.array(True),
                    "acc0": np.zeros((n, 3), np.float32), "x": rng.uniform(0, 1, (n, 3)).astype(np.float32),
                    "limit": np.array(limit, np.float32)})
    out.append(dict(out[0], go=np.array(False)))          # never starts: carried values pass through
    return out


@pytest.mark.parametrize("opt_level", LEVELS)
def test_loop_with_data_trip_count_and_early_exit(opt_level):
    m = check(cm.loop_model(), _loop_feeds(np.random.default_rng(1)), opt_level)
    lengths = [m.run(f)["totals"].shape[0] for f in _loop_feeds(np.random.default_rng(1))]
    assert 0 in lengths and len(set(lengths)) > 2           # empty, early exits and full runs


@pytest.mark.parametrize("opt_level", LEVELS)
def test_greedy_decoder_loop(opt_level):
    rng = np.random.default_rng(2)
    feeds = [{"max_len": np.array(length, np.int64), "h0": rng.standard_normal((1, 5)).astype(np.float32),
              "start": np.array([start], np.int64)} for length, start in ((6, 3), (20, 2), (1, 5), (2, 4))]
    check(cm.greedy_decoder(), feeds, opt_level)


def test_compile_time_conditions_are_still_inlined():
    """A constant condition keeps the old path: the branch is inlined, no host step."""
    import onnx

    model = cm.if_model()
    g = model.graph
    for n in list(g.node):
        if n.op_type in ("ReduceSum", "Greater"):
            g.node.remove(n)
    g.initializer.append(onnx.numpy_helper.from_array(np.array(True), "c"))
    m = cortado.compile(model, target=TARGET, opt_level=0)
    assert not any("host" in s for s in m.plan["steps"]) and "subplans" not in m.plan


def test_saved_control_flow_model_runs_without_the_compiler(tmp_path):
    model = cm.loop_model()
    m = cortado.compile(model, target=TARGET, opt_level=2)
    path = tmp_path / "loop.cortado"
    m.save(path)
    feeds = _loop_feeds(np.random.default_rng(3))
    cases = [(f, dict(zip(("neg", "totals"), run_onnxruntime(model, f)))) for f in feeds]
    run_without_the_compiler(path, cases, tmp_path, rtol=1e-5, atol=1e-6)


def test_forged_sub_plan_index_is_refused():
    import copy

    from cortado.errors import ArtifactError
    from cortado.runtime.plan_check import check_plan

    m = cortado.compile(cm.loop_model(), target=TARGET, opt_level=0)
    plan = copy.deepcopy(m.plan)
    next(s for s in plan["steps"] if "host" in s)["attrs"]["body"] = 7
    with pytest.raises(ArtifactError, match="sub-plan 7, which does not exist"):
        check_plan(plan, m.constants, m.source)
    plan = copy.deepcopy(m.plan)
    plan["subplans"][0]["plan"]["steps"][0]["kernel"] = "nope"
    with pytest.raises(ArtifactError, match="sub-plan 0"):
        check_plan(plan, m.constants, m.source)


def test_concurrent_calls_run_their_own_iterations():
    from concurrent.futures import ThreadPoolExecutor

    model = cm.loop_model()
    m = cortado.compile(model, target=TARGET, opt_level=2)
    feeds = _loop_feeds(np.random.default_rng(4)) * 2
    want = [run_onnxruntime(model, f) for f in feeds]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(m.run, feeds))
    for g, w in zip(got, want):
        assert_close(g["neg"], w[0], what="neg")
        assert_close(g["totals"], w[1], what="totals")


@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("opt_level", LEVELS)
def test_scan_over_a_symbolic_length(opt_level, reverse):
    rng = np.random.default_rng(5)
    feeds = [{"s0": rng.standard_normal(3).astype(np.float32), "x": rng.standard_normal((t, 3)).astype(np.float32),
              "w": rng.standard_normal(3).astype(np.float32)} for t in (1, 4, 9)]
    m = check(cm.scan_model(reverse), feeds, opt_level)
    assert [s["host"] for s in m.plan["steps"] if "host" in s] == ["Scan"]


def test_a_loop_given_up_on_leaves_no_unrolled_copies():
    """The condition turns out to be data only after the first iteration was unrolled: that
    copy is dead and the importer drops it, so O0 computes nothing twice."""
    from onnx import helper

    body = helper.make_graph([helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
                              helper.make_node("Less", ["acc_out", "x"], ["cond_out"])],
                             "body", [cm._vi("i", cm.I64, []), cm._vi("c", cm.B, []), cm._vi("acc_in", cm.F, [])],
                             [cm._vi("cond_out", cm.B, []), cm._vi("acc_out", cm.F, [])])
    model = cm._model([helper.make_node("Loop", ["", "", "zero"], ["acc"], body=body)], [cm._vi("x", cm.F, [])],
                      [cm._vi("acc", cm.F, None)], [cm._init("zero", np.float32(0)), cm._init("one", np.float32(1))])
    m = check(model, [{"x": np.array(x, np.float32)} for x in (0.5, 3.5)], 0)
    assert [n.op.value for n in m.graph.nodes] == ["Loop"]
