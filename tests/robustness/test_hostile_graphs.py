"""Valid but hostile shapes of graphs: very wide, very deep, many paths. They compile within a
time bound and compute what onnxruntime computes (no recursion limits, no parser limits on
the generated source, no blow-up along re-converging paths)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import cortado
from cortado.testing.reference import assert_close, run_onnxruntime
from robust_cases import onnx_model, time_limit, vi


def check(model, x, seconds: int = 60):
    expected = run_onnxruntime(model, {"x": x})[0]
    with time_limit(seconds):
        got = cortado.compile(model, target="interpreter").run({"x": x})
    assert_close(next(iter(got.values())), expected)


def test_concat_of_300_inputs():
    """Read as one where-chain (the graph input cannot be written in place), which used to nest
    one tl.where per input: Python's parser stops at 200 parentheses."""
    nodes = [helper.make_node("Concat", ["x"] * 300, ["c"], axis=1), helper.make_node("Neg", ["c"], ["y"])]
    check(onnx_model(nodes, [vi("x", [2, 1])], [vi("y", None)]), np.random.default_rng(0).standard_normal((2, 1))
          .astype(np.float32))


@pytest.mark.parametrize("op", ["Max", "Sum"])
def test_variadic_op_with_500_inputs(op):
    nodes = [helper.make_node(op, ["x"] * 500, ["y"])]
    check(onnx_model(nodes, [vi("x", [3, 4])], [vi("y", None)]),
          np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32))


def test_chain_of_3000_nodes():
    names = ["x"] + [f"v{i}" for i in range(3000)]
    ops = ["Neg", "Abs", "Sigmoid"]
    nodes = [helper.make_node(ops[i % 3], [names[i]], [names[i + 1]]) for i in range(3000)]
    check(onnx_model(nodes, [vi("x", [4, 4])], [vi(names[-1], None)]),
          np.random.default_rng(2).standard_normal((4, 4)).astype(np.float32))


def test_many_reconverging_paths():
    """60 diamonds in a row: 2^60 paths from input to output, each node visited once."""
    nodes, prev = [], "x"
    for i in range(60):
        nodes += [helper.make_node("Tanh", [prev], [f"a{i}"]), helper.make_node("Sigmoid", [prev], [f"b{i}"]),
                  helper.make_node("Add", [f"a{i}", f"b{i}"], [f"c{i}"])]
        prev = f"c{i}"
    check(onnx_model(nodes, [vi("x", [3, 5])], [vi(prev, None)]),
          np.random.default_rng(3).standard_normal((3, 5)).astype(np.float32))
