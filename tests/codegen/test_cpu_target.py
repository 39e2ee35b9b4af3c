"""The cpu target's own promises (its numerics are checked with the interpreter's, through
``HOST_TARGETS``): which launches get a numpy form, what happens to those that do not, and
how ``auto`` resolves."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado import ops
from cortado.codegen.cpu import CPU_OPS
from cortado.ir import Graph, Op, TensorType
from cortado.runtime.devices import resolve_target
from cortado.testing.models import LIGHT_MODELS, light_model
from cortado.testing.reference import assert_close
from examples.model_zoo import bert_encoder, mobilenet_v2


def _interpreted(model, **kw):
    return cortado.compile(model, target="cpu", **kw).plan["cpu"]["interpreted"]


@pytest.mark.parametrize("name", LIGHT_MODELS + ("mobilenet_v2", "bert_encoder"))
def test_every_launch_of_the_model_set_is_numpy(name):
    """The model set runs at numpy speed: no launch falls back to the interpreter."""
    model = {"mobilenet_v2": lambda: mobilenet_v2(), "bert_encoder": lambda: bert_encoder(1, seq=16)}.get(
        name, lambda: light_model(name))()
    assert _interpreted(model) == []


def test_a_launch_without_a_numpy_form_runs_interpreted_and_says_why(monkeypatch):
    monkeypatch.delitem(CPU_OPS, Op.CUM_SUM)        # as an op no one has written a numpy form for yet
    g = Graph()
    x = g.add_input("x", TensorType((3, 5), "float32"))
    c = ops.apply(g, "CumSum", [ops.apply(g, "Relu", [x]).output], axis=1).output
    g.add_output(ops.apply(g, "Tanh", [c]).output, "y")
    m = cortado.compile(g, target="cpu", opt_level=0)
    why = m.plan["cpu"]["interpreted"]
    assert [w["kind"] for w in why] == ["scan"] and "CumSum" in why[0]["why"], why
    assert all("cpu" in s for i, s in enumerate(m.plan["steps"]) if i != why[0]["step"])
    feeds = {"x": np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)}
    assert_close(m.run(feeds)["y"], ops.evaluate(g, feeds)["y"])


def test_half_types_are_left_to_the_interpreter():
    g = Graph()
    x = g.add_input("x", TensorType((4, 8), "float32"))
    g.add_output(ops.apply(g, "Sigmoid", [x]).output, "y")
    why = _interpreted(g, dtype="float16")
    assert why and all("float16" in w["why"] for w in why), why


def test_auto_picks_cpu_without_a_gpu(monkeypatch):
    monkeypatch.setenv("CORTADO_DISABLE_CUDA", "1")
    target, reason = resolve_target("auto")
    assert target == "cpu" and "no usable CUDA GPU" in reason


def test_the_generated_module_is_one_readable_function_per_launch():
    g = Graph()
    x = g.add_input("x", TensorType((2, 3, 8, 8), "float32"))
    w = g.add_constant(np.ones((4, 3, 3, 3), np.float32))
    y = ops.apply(g, "Conv", [x, w], kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1),
                  group=1).output
    g.add_output(ops.apply(g, "Relu", [y]).output, "y")
    m = cortado.compile(g, target="cpu")
    src = m.plan["cpu"]["source"]
    assert "import triton" not in src
    (step,) = m.plan["steps"]
    assert f"def {step['cpu']['kernel']}(" in src
    # the conv and its ReLU epilogue: the ReLU writes the output buffer in place
    assert "conv(" in src and "np.maximum(" in src and ", out=" in src


def test_a_plan_saved_before_the_cpu_target_runs_interpreted(tmp_path):
    """Artifacts from before the cpu target (no plan["cpu"]) still load where auto means cpu."""
    from cortado import runtime
    from cortado.runtime.model import CompiledModel

    g = Graph()
    x = g.add_input("x", TensorType((2, 3), "float32"))
    g.add_output(ops.apply(g, "Exp", [x]).output, "y")
    m = cortado.compile(g, target="cpu")
    plan = {k: v for k, v in m.plan.items() if k != "cpu"}
    plan["steps"] = [{k: v for k, v in s.items() if k != "cpu"} for s in plan["steps"]]
    old = CompiledModel(plan, m.source, m.constants, target="cpu")
    feeds = {"x": np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)}
    assert_close(old.run(feeds)["y"], np.exp(feeds["x"]))
    loaded = runtime.load(old.save(tmp_path / "old.cortado"), target="cpu")
    assert_close(loaded.run(feeds)["y"], np.exp(feeds["x"]))


def test_a_chain_over_a_scalar_runs_in_numpy():
    """Relu(Relu(x)) on a rank-0 input, read by an Add that broadcasts it: numpy's ufuncs over
    0-d arrays return scalars, so the chain must not be computed in place over its temporary
    (``out=`` refuses a scalar)."""
    g = Graph("scalar_chain")
    x = g.add_input("x", TensorType((), "float32"))
    y = ops.apply(g, Op.RELU, [ops.apply(g, Op.RELU, [x]).output]).output
    w = g.add_constant(np.array([1.0, -2.0, 0.5], np.float32), "w")
    g.add_output(ops.apply(g, Op.ADD, [w, y]).output, "out")
    m = cortado.compile(g, target="cpu", opt_level=2)
    for value in (-1.5, 0.75):
        feeds = {"x": np.array(value, np.float32)}
        assert_close(m.run(feeds)["out"], ops.evaluate(g, feeds)["out"])
