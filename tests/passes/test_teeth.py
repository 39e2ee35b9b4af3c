"""The property tests have teeth: deliberately broken passes must be caught.

Each test breaks one pass the way a plausible bug would and asserts that ``check_pass`` —
the same check the pass's own property test runs — finds a counterexample and reports the
shrunk graph.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import cortado.passes.algebraic as algebraic
import cortado.passes.cse as cse_module
import cortado.passes.layout as layout
import cortado.passes.transpose_sinking as sinking
from cortado.ir import Op
from cortado.testing import PassCheckError, check_pass, strategies


def _expect_counterexample(pass_fn, **options) -> str:
    with pytest.raises(PassCheckError) as info:
        check_pass(pass_fn, **options)
    text = str(info.value)
    assert "graph before the pass:" in text and "graph after the pass:" in text
    return text


def test_cse_that_ignores_attributes_is_caught(monkeypatch):
    def key_without_attrs(node):
        return (node.op, tuple(id(v) for v in node.inputs))

    monkeypatch.setattr(cse_module, "node_key", key_without_attrs)
    _expect_counterexample(cse_module.cse)


def test_simplification_that_drops_a_broadcast_is_caught(monkeypatch):
    """x + 0 -> x even when the zeros broadcast x to a bigger shape (and no type guard)."""
    monkeypatch.setattr(algebraic, "keeps_type", lambda node, x: True)

    def unguarded_replace(graph, node, new):
        node.output.replace_all_uses_with(new)
        algebraic.remove_if_dead(graph, node)

    monkeypatch.setattr(algebraic, "replace_result", unguarded_replace)
    _expect_counterexample(algebraic.simplify, graphs=strategies.graphs(motifs=["neutral"]))


def test_layout_that_forgets_one_transpose_is_caught(monkeypatch):
    """The first conversion the rewrite creates is skipped: the unconverted value is used."""
    real_apply = layout.apply
    forgot = []

    def forgetful_apply(graph, op, inputs, **kw):
        if op is Op.TRANSPOSE and kw.get("name", "").endswith("_layout") and not forgot:
            forgot.append(inputs[0])
            return SimpleNamespace(output=inputs[0])
        return real_apply(graph, op, inputs, **kw)

    def run(graph):
        forgot.clear()
        return layout.assign_layout(graph)

    monkeypatch.setattr(layout, "apply", forgetful_apply)
    _expect_counterexample(run, graphs=strategies.graphs(motifs=["nhwc_island", "transpose_pair"]))


def test_sinking_that_forgets_to_remap_an_axis_is_caught(monkeypatch):
    """Softmax(Transpose(x)) sunk without moving its axis: same shapes, different numbers."""
    real = sinking._new_attrs

    def no_remap(user, perm):
        attrs = real(user, perm)
        if attrs is not None and user.op in (Op.SOFTMAX, Op.LOG_SOFTMAX, Op.CONCAT):
            attrs["axis"] = user.attrs.axis
        return attrs

    monkeypatch.setattr(sinking, "_new_attrs", no_remap)
    text = _expect_counterexample(sinking.sink_transposes,
                                  graphs=strategies.graphs(ops=[Op.RELU, Op.SOFTMAX, Op.TRANSPOSE, Op.ADD],
                                                           motifs=["transpose_pair"]))
    assert "computes" in text or "verif" in text
