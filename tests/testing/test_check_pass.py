"""check_pass: it accepts a correct user pass, and catches and explains broken ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from cortado import ir
from cortado.ir import Graph, Op, TensorType
from cortado.ops import apply
from cortado.testing import (PassCheckError, UntestedPassError, check_pass, check_pass_on, compare_outputs,
                             pass_targets, strategies, structure_key)

FAST = settings(max_examples=60, derandomize=True, deadline=None, database=None)


def drop_double_neg(graph: ir.Graph) -> bool:          # the example in DESIGN.md, verbatim
    changed = False
    for node in list(graph.nodes):
        src = node.inputs[0].producer if node.op == "Neg" else None
        if src is not None and src.op == "Neg":
            node.outputs[0].replace_all_uses_with(src.inputs[0])
            changed = True
    graph.remove_unused()
    return changed


def test_a_correct_user_pass_passes():
    check_pass(drop_double_neg)
    check_pass(drop_double_neg, ops=[Op.NEG, Op.RELU, Op.ADD], motifs=False)


def _failure(pass_fn, **kw) -> str:
    with pytest.raises(PassCheckError) as e:
        check_pass(pass_fn, settings=FAST, **kw)
    return str(e.value)


def test_semantic_change_is_reported_with_a_shrunk_graph():
    def relu_is_identity(graph):                        # wrong: Relu(x) != x for x < 0
        changed = False
        for n in graph.nodes:
            if n.op == "Relu":
                n.output.replace_all_uses_with(n.inputs[0])
                changed = True
        graph.remove_unused()
        return changed

    text = _failure(relu_is_identity, ops=[Op.RELU, Op.TANH, Op.ADD])
    assert text.startswith("the pass changed what the graph computes")
    before = text.split("graph before the pass:\n")[1].split("\n\n")[0]
    nodes = [line for line in before.splitlines() if " = " in line and "const" not in line]
    assert len(nodes) <= 2 and all("Relu" in line for line in nodes), before   # shrunk to the point
    assert "inputs:\n  x0:" in text


def test_contract_violations_are_named():
    assert "returned None" in _failure(lambda g: None)

    def crash(graph):
        raise RuntimeError("boom")

    assert "raised RuntimeError: boom" in _failure(crash)

    def silent(graph):
        apply(graph, Op.RELU, [graph.inputs[0]])                       # dead: allowed silently
        graph.add_output(graph.outputs[0], "extra")
        return False

    assert "returned False but changed the graph" in _failure(silent)

    def rename(graph):
        graph.output_names[0] = "renamed"
        return True

    assert "inputs or outputs" in _failure(rename)

    def breaks_ir(graph):
        graph.nodes[-1].outputs[0].type = TensorType((9, 9), "float32")
        return True

    assert "no longer verifies" in _failure(breaks_ir)


def test_idempotence_is_checked_on_request():
    def grows(graph):
        graph.set_output(0, apply(graph, Op.IDENTITY, [graph.outputs[0]]).output)
        return True

    check_pass(grows, settings=FAST)
    assert "second run" in _failure(grows, idempotent=True)


def test_check_pass_on_one_graph_with_default_inputs():
    g = Graph()
    x = g.add_input("x", TensorType((2, 3), "float32"))
    g.add_output(apply(g, Op.NEG, [apply(g, Op.NEG, [x]).output]).output, "y")
    out = check_pass_on(drop_double_neg, g)
    assert out.outputs[0] is out.inputs[0] and len(g) == 2       # the caller's graph is untouched


def test_compare_outputs_tolerances_nan_and_inf():
    e = {"y": np.array([1000.0, np.nan, np.inf, -np.inf, 0.0], np.float32)}
    close = {"y": np.array([1000.05, np.nan, np.inf, -np.inf, 1e-6], np.float32)}
    assert compare_outputs(e, close) == []
    far = {"y": np.array([1001.0, 0.0, np.inf, np.inf, 0.0], np.float32)}
    problems = compare_outputs(e, far)
    assert len(problems) == 1 and "3 of 5 elements" in problems[0]
    assert "float64" in compare_outputs(e, {"y": e["y"].astype(np.float64)})[0]
    assert "exact" in compare_outputs({"i": np.arange(3)}, {"i": np.arange(3) + 1})[0]
    assert "missing" in compare_outputs(e, {})[0]


def test_an_overflow_at_the_edge_of_the_range_is_a_rounding_not_a_change():
    """A reordered product may overflow one rounding earlier: inf against 3e38 of the same
    sign matches; against -3e38, against 1e30 or against NaN it does not."""
    big = np.finfo(np.float32).max
    e = {"y": np.array([big, -big / 8, 1e30, -big, np.nan], np.float32)}
    a = {"y": np.array([np.inf, -np.inf, np.inf, np.inf, np.inf], np.float32)}
    problems = compare_outputs(e, a)
    assert len(problems) == 1 and "3 of 5 elements" in problems[0] and "first at (2,)" in problems[0]
    assert compare_outputs({"y": a["y"][:2]}, {"y": e["y"][:2]}) == []     # either side may overflow
    from cortado.testing.reference import assert_close
    assert_close(a["y"][:2], e["y"][:2])
    with pytest.raises(AssertionError):
        assert_close(a["y"][2:4], e["y"][2:4])


def _two_relus(swap: bool, dead: bool, names: str):
    g = Graph()
    x = g.add_input("x", TensorType((2,), "float32"))
    a = apply(g, Op.RELU, [x], name=names + "a").output
    b = apply(g, Op.TANH, [x], name=names + "b").output
    if dead:
        apply(g, Op.SIGMOID, [x])
    s = apply(g, Op.ADD, [b, a] if swap else [a, b]).output
    g.add_output(s, "y")
    return g


def test_structure_key_ignores_names_order_and_dead_code_only():
    base = structure_key(_two_relus(False, False, "p"))
    assert structure_key(_two_relus(True, True, "q")) == base
    g = _two_relus(False, False, "p")
    g.set_output(0, apply(g, Op.RELU, [g.outputs[0]]).output)
    assert structure_key(g) != base
    g = Graph()
    x = g.add_input("x", TensorType((2, 3), "float32"))
    g.add_output(apply(g, Op.TRANSPOSE, [x], perm=(1, 0)).output, "y")
    h = Graph()
    x = h.add_input("x", TensorType((2, 3), "float32"))
    h.add_output(apply(h, Op.LEAKY_RELU, [x], alpha=0.1).output, "y")
    k = Graph()
    x = k.add_input("x", TensorType((2, 3), "float32"))
    k.add_output(apply(k, Op.LEAKY_RELU, [x], alpha=0.2).output, "y")
    assert len({structure_key(g), structure_key(h), structure_key(k)}) == 3


def test_custom_strategies_plug_in():
    seen = []

    def spy(graph):
        seen.append(len(graph.inputs))
        return False

    check_pass(spy, graphs=strategies.graphs(max_inputs=1, max_nodes=3), settings=FAST, require_change=False)
    assert seen and set(seen) == {1}


def test_a_pass_that_never_fires_is_reported_untested():
    def only_rewrites_hardmax(graph):          # Hardmax is never drawn by default
        return any(n.op is Op.HARDMAX for n in graph.nodes) and False

    with pytest.raises(UntestedPassError, match=r"changed none of the 60 graphs.*read from its code: none"):
        check_pass(only_rewrites_hardmax, settings=FAST)
    check_pass(only_rewrites_hardmax, settings=FAST, require_change=False)


def test_draws_are_weighted_toward_the_ops_the_pass_matches():
    """A Sub-only pass sees a Sub in (nearly) every graph, and a Sub's result as an output."""
    seen = []

    def spy(graph):
        subs = [n for n in graph.nodes if n.op is Op.SUB]
        seen.append((bool(subs), any(v.producer in subs for v in graph.outputs)))
        return False

    check_pass(spy, settings=FAST, require_change=False)
    assert pass_targets(spy) == [Op.SUB]
    assert sum(has for has, _ in seen) >= 0.9 * len(seen), seen
    assert sum(out for _, out in seen) >= 0.5 * len(seen), seen


def test_a_fold_only_right_for_finite_inputs_is_caught_on_special_values():
    """x * 0 -> 0 holds on normal inputs; NaN or Inf inputs show it is wrong."""
    def times_zero(graph):
        changed = False
        for n in list(graph.nodes):
            if n.op is Op.MUL and n.output.type.is_static and any(
                    v.is_constant and v.const.size and not v.const.any() for v in n.inputs):
                n.output.replace_all_uses_with(graph.add_constant(np.zeros(n.output.shape, np.float32)))
                graph.remove(n)
                changed = True
        return changed

    text = _failure(times_zero, special_values=1.0, motifs=["absorbing"])
    assert "on inputs with special values" in text and ("nan" in text or "inf" in text)
    with pytest.raises(UntestedPassError):      # never fires without the zeros it looks for
        check_pass(times_zero, settings=FAST, motifs=False, ops=["Relu"], targets=[], special_values=0.0)


def test_special_values_are_planted_in_inputs():
    g = Graph()
    g.add_input("x", TensorType((4, 6), "float32"))
    g.add_output(apply(g, Op.RELU, [g.inputs[0]]).output, "y")
    found = []

    @settings(max_examples=20, database=None, deadline=None)
    @given(strategies.inputs_for(g, special=1.0))
    def draw(feeds):
        x = feeds["x"]
        assert x.dtype == np.float32 and x.shape == (4, 6)
        found.append(not np.isfinite(x).all() or np.isin(x, strategies.SPECIAL_VALUES.astype(np.float32)).any())

    draw()
    assert all(found)


def test_registry_bugs_are_not_blamed_on_the_pass(monkeypatch):
    import dataclasses

    from cortado.ops import registry

    relu = registry.get_op(Op.RELU)
    broken = dataclasses.replace(relu, reference=lambda a, x: np.concatenate([x, x]))
    monkeypatch.setitem(registry._REGISTRY, Op.RELU, broken)
    g = Graph()
    g.add_output(apply(g, Op.RELU, [g.add_input("x", TensorType((2,), "float32"))]).output, "y")
    with pytest.raises(PassCheckError, match=r"before\* the pass does not evaluate as its types say.*Relu node"):
        check_pass_on(lambda graph: False, g)
