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
