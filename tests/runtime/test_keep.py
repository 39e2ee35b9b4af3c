"""``CompiledModel.run(keep=...)``: intermediate values, copied right after the kernel writes them."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado import runtime
from cortado import ops
from cortado.errors import CortadoError, InputError
from cortado.ir import Graph, TensorType
from cortado.testing.reference import assert_close


@pytest.fixture(scope="module")
def model():
    """Two branches written in place into a concat's buffer, then a chain whose buffers get reused."""
    g = Graph("keep")
    x = g.add_input("x", TensorType((2, 4, 6, 6), "float32"))
    a = ops.apply(g, "Relu", [x]).output
    b = ops.apply(g, "Sigmoid", [x]).output
    c = ops.apply(g, "Concat", [a, b], axis=1).output
    d = ops.apply(g, "Softmax", [c], axis=3).output
    e = ops.apply(g, "Softmax", [ops.apply(g, "Neg", [d]).output], axis=2).output
    g.add_output(ops.apply(g, "Tanh", [e]).output, "y")
    return cortado.compile(g, target="interpreter")


def test_keep_true_returns_every_kernel_output(model):
    x = np.random.default_rng(0).standard_normal((2, 4, 6, 6)).astype(np.float32)
    got = model.run({"x": x}, keep=True)
    ref = ops.evaluate(model.graph, {"x": x}, keep=True)
    written = {n for s in model.plan["steps"] for n in s["outputs"]}
    assert set(model.plan["slices"]) <= written, "the concat's inputs are kernel outputs stored in place"
    assert written | {"y"} == set(got)
    for name in written | {"y"}:
        assert_close(got[name], ref[name], what=name)
    assert model.plan["buffers"], "the memory plan reuses buffers, so values must be copied out early"


def test_keep_names_and_plain_run(model):
    x = np.ones((2, 4, 6, 6), np.float32)
    name = model.plan["steps"][0]["outputs"][0]
    got = model.run({"x": x}, keep=[name])
    assert set(got) == {name, "y"}
    assert set(model.run({"x": x})) == {"y"}


def test_unknown_keep_name_is_an_input_error(model):
    with pytest.raises(InputError, match="no kernel writes: 'x'"):
        model.run({"x": np.ones((2, 4, 6, 6), np.float32)}, keep=["x"])


def test_keep_survives_an_artifact_and_old_plans_are_refused(model, tmp_path):
    x = np.ones((2, 4, 6, 6), np.float32)
    loaded = runtime.load(model.save(tmp_path / "m.cortado"), target="interpreter")
    assert set(loaded.run({"x": x}, keep=True)) == set(model.run({"x": x}, keep=True))
    old = dict(model.plan, steps=[{k: v for k, v in s.items() if k != "outputs"} for s in model.plan["steps"]])
    legacy = runtime.CompiledModel(old, model.source, model.constants, target="interpreter")
    assert set(legacy.run({"x": x})) == {"y"}
    with pytest.raises(CortadoError, match="compile the model again|does not record"):
        legacy.run({"x": x}, keep=True)
