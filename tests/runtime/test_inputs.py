"""Run-time input checking: one clear InputError naming the input, what was expected and got."""

import numpy as np
import pytest

import cortado
from cortado.errors import InputError
from cortado.ir import Graph, Sym, TensorType
from cortado import ops


@pytest.fixture(scope="module")
def model():
    g = Graph()
    x = g.add_input("x", TensorType((Sym("N"), 4), "float32"))
    y = g.add_input("y", TensorType((Sym("N"), 4), "float32"))
    g.add_output(ops.apply(g, "Add", [x, y]).output, "z")
    return cortado.compile(g, target="interpreter")


def test_runs_and_returns_by_name(model):
    a = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(model.run({"x": a, "y": a})["z"], a * 2)
    np.testing.assert_array_equal(model(a, a), a * 2)
    np.testing.assert_array_equal(model(a, y=a), a * 2)


@pytest.mark.parametrize("feeds,match", [
    ({"x": np.ones((2, 4), np.float32)}, "missing 'y'"),
    ({"x": np.ones((2, 4), np.float32), "y": np.ones((2, 4), np.float32), "w": 1}, "unknown 'w'"),
    ({"x": np.ones((2, 4), np.float64), "y": np.ones((2, 4), np.float32)}, "'x' expects dtype float32, got float64"),
    ({"x": np.ones((2, 5), np.float32), "y": np.ones((2, 5), np.float32)}, r"'x' expects shape \(N, 4\), got \(2, 5\)"),
    ({"x": np.ones((2, 4), np.float32), "y": np.ones((3, 4), np.float32)}, "dim N is 2 in one input but 3 in 'y'"),
    ({"x": np.ones((4,), np.float32), "y": np.ones((2, 4), np.float32)}, "rank 2"),
])
def test_bad_inputs(model, feeds, match):
    with pytest.raises(InputError, match=match):
        model.run(feeds)


def test_positional_count(model):
    a = np.ones((1, 4), np.float32)
    with pytest.raises(InputError, match="takes 2 input"):
        model(a, a, a)


def test_repr_names_signature(model):
    assert "x: float32['N', 4]" in repr(model) and "target=interpreter" in repr(model)
