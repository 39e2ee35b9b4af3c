"""Shape-computation folding (the whole-model transformer case is in test_pipeline)."""

import numpy as np
import pytest

from cortado.ir import DType, Graph, Op, Sym, TensorType
from cortado.ops import all_ops, apply
from cortado.testing import check_pass, strategies
from cortado.passes.shape_folding import fold_shapes


def test_fold_shapes_preserves_semantics(counted):
    p = counted(fold_shapes)
    check_pass(p, graphs=strategies.graphs(motifs=["shape_chain", "reshape_chain", "duplicate"]), idempotent=True)
    p.assert_exercised(0.2)


def _shape_graph(x_shape):
    g = Graph()
    x = g.add_input("x", TensorType(x_shape, "float32"))
    dims = g.add_constant(np.array(x_shape if all(isinstance(d, int) for d in x_shape) else [1, 1], np.int64))
    extra = g.add_constant(np.array([4], np.int64))
    row = apply(g, Op.RESHAPE, [dims], shape=(1, 2)).output
    back = apply(g, Op.RESHAPE, [row], shape=(2,)).output
    joined = apply(g, Op.CONCAT, [back, extra], axis=0).output
    as_float = apply(g, Op.CAST, [joined], to=DType.FLOAT32).output
    g.add_output(apply(g, Op.ADD, [x, apply(g, Op.RESHAPE, [as_float], shape=(1, 3)).output]).output, "y")
    return g


def test_integer_shape_arithmetic_folds_away():
    g = _shape_graph((2, 3))
    assert fold_shapes(g)
    # the int chain and its cast to float are constants now; only the float Reshape
    # (left to fold_constants) and the data Add remain
    assert [n.op for n in g.nodes] == [Op.RESHAPE, Op.ADD]
    assert g.nodes[0].inputs[0].const.tolist() == [2.0, 3.0, 4.0]


def test_big_integer_tensors_are_left_to_constant_folding():
    g = Graph()
    c = g.add_constant(np.arange(200, dtype=np.int64))
    g.add_output(apply(g, Op.RESHAPE, [c], shape=(10, 20)).output, "y")
    assert not fold_shapes(g)
    assert fold_shapes(g, max_elements=200)


@pytest.mark.skipif(Op.SHAPE not in {d.op for d in all_ops()}, reason="the IR has no Shape op registered yet")
def test_shape_nodes_fold_where_the_dims_they_read_are_static():
    for shape, start, folded in (((2, 3, 4), 0, [2, 3, 4]), ((Sym("N"), 3, 4), 1, [3, 4]),
                                 ((Sym("N"), 3, 4), 0, None)):
        g = Graph()
        x = g.add_input("x", TensorType(shape, "float32"))
        g.add_output(apply(g, Op.SHAPE, [x], start=start, end=3).output, "s")
        assert fold_shapes(g) is (folded is not None)
        if folded:
            assert g.outputs[0].const.tolist() == folded and g.outputs[0].dtype is DType.INT64
    if Op.SIZE in {d.op for d in all_ops()}:
        g = Graph()
        g.add_output(apply(g, Op.SIZE, [g.add_input("x", TensorType((Sym("N"), 3), "float32"))]).output, "n")
        assert not fold_shapes(g)


# -- comparisons, Max/Min and Where over symbolic shape data -----------------------------------
from hypothesis import given, strategies as st  # noqa: E402

from cortado.testing import check_pass_on  # noqa: E402
from cortado.testing.strategies import inputs_for  # noqa: E402

_DECIDED_OPS = [Op.EQUAL, Op.LESS, Op.LESS_OR_EQUAL, Op.GREATER, Op.GREATER_OR_EQUAL, Op.MAX, Op.MIN]


@st.composite
def _selection_graphs(draw):
    """x with symbolic dims anywhere; y = Cast(f(Shape(x), c)), f a comparison or Max/Min,
    optionally picked through Where(cmp, c2, Shape(x)), the way exporters build shapes."""
    rank = draw(st.integers(1, 3))
    shape = tuple(Sym(f"S{i}") if draw(st.booleans()) else draw(st.integers(1, 3)) for i in range(rank))
    g = Graph()
    x = g.add_input("x", TensorType(shape, "float32"))
    s = apply(g, Op.SHAPE, [x], start=0, end=rank).output
    c = g.add_constant(np.array(draw(st.lists(st.integers(-1, 3), min_size=rank, max_size=rank)), np.int64))
    op = draw(st.sampled_from(_DECIDED_OPS))
    r = apply(g, op, [s, c]).output
    if op not in (Op.MAX, Op.MIN) and draw(st.booleans()):
        c2 = g.add_constant(np.array(draw(st.lists(st.integers(0, 3), min_size=rank, max_size=rank)), np.int64))
        r = apply(g, Op.WHERE, [r, c2, s]).output
    g.add_output(apply(g, Op.CAST, [r], to=DType.FLOAT32).output, "y")
    return g


@given(data=st.data())
def test_decidable_shape_comparisons_fold_exactly(data):
    """Semantics hold at drawn bindings and with every symbol at 0, 1, 2 and 3 (``N == 1`` is
    sometimes true: it must never be folded), and a comparison with -1 always folds."""
    g = data.draw(_selection_graphs(), label="graph")
    out = check_pass_on(fold_shapes, g, data.draw(inputs_for(g), label="inputs"), idempotent=True)
    for n in (0, 1, 2, 3):      # every symbol at each size, the empty one included
        check_pass_on(fold_shapes, g, {"x": np.zeros([d if isinstance(d, int) else n for d in g.inputs[0].shape],
                                                     np.float32)})
    cmp = next(n for n in g.nodes if n.op in _DECIDED_OPS)
    consts = cmp.inputs[1].const.tolist()
    if cmp.op is Op.EQUAL and all(v == -1 for v in consts):
        assert not any(n.op is Op.EQUAL for n in out.nodes)


def test_where_equal_minus_one_becomes_the_shape_itself():
    g = Graph()
    x = g.add_input("x", TensorType((Sym("N"), 1, 4), "float32"))
    s = apply(g, Op.SHAPE, [x], start=0, end=3).output
    target = apply(g, Op.CONCAT, [apply(g, Op.SLICE, [s], starts=(0,), ends=(1,), steps=(1,)).output,
                                  g.add_constant(np.array([-1, -1], np.int64))], axis=0).output
    eq = apply(g, Op.EQUAL, [target, g.add_constant(np.array([-1, -1, -1], np.int64))]).output
    sel = apply(g, Op.WHERE, [eq, g.add_constant(np.array([1, 1, 1], np.int64)), target]).output
    g.add_output(sel, "shape")
    assert fold_shapes(g)
    assert not any(n.op is Op.EQUAL for n in g.nodes)        # N == -1 is false for every N
    from cortado.ops import evaluate
    for n in (0, 3):
        assert list(evaluate(g, {"x": np.zeros((n, 1, 4), np.float32)}).values())[0].tolist() == [n, 1, 1]
