"""Constant folding through the reference evaluator, with its size cap."""

import numpy as np

from cortado.ir import DType, Graph, Op, TensorType
from cortado.ops import apply, evaluate
from cortado.testing import check_pass
from cortado.passes.constant_folding import fold_constants, fold_decision


# what constant folding works on: ops whose operands are all constants (``constant_expr``)
# and shape arithmetic (``shape_chain``). The pass names no op, so check_pass's default draw
# favors duplicates (a structural pass's work) and folds in about a fifth of the graphs, a
# share that moves with every change to the draw; favoring its motifs makes the fold fire
# in most graphs, which the floor below holds
FOLDABLE = ("constant_expr", "shape_chain")


def test_fold_constants_preserves_semantics(counted):
    p = counted(fold_constants)
    check_pass(p, idempotent=True, favored_motifs=FOLDABLE)
    p.assert_exercised(0.5)


def test_constant_chain_folds_to_one_constant():
    g = Graph()
    x = g.add_input("x", TensorType((2, 3), "float32"))
    w = g.add_constant(np.arange(6, dtype=np.float32).reshape(3, 2))
    wt = apply(g, Op.TRANSPOSE, [w], perm=(1, 0)).output
    w2 = apply(g, Op.MUL, [wt, g.add_constant(np.float32(2.0))]).output
    g.add_output(apply(g, Op.ADD, [x, w2]).output, "y")
    assert fold_constants(g)
    assert [n.op for n in g.nodes] == [Op.ADD]
    folded = g.nodes[0].inputs[1].const
    np.testing.assert_array_equal(folded, np.arange(6, dtype=np.float32).reshape(3, 2).T * 2)
    assert not folded.flags.writeable


def test_scalar_results_keep_rank_zero():
    g = Graph()
    c = g.add_constant(np.array([1.5], np.float32))
    g.add_output(apply(g, Op.RESHAPE, [c], shape=()).output, "s")
    assert fold_constants(g)
    assert g.outputs[0].is_constant and g.outputs[0].type == TensorType((), DType.FLOAT32)
    assert evaluate(g, {})["s"].shape == ()


def test_size_cap_keeps_big_or_growing_results_as_nodes():
    g = Graph()
    big = apply(g, Op.CONSTANT_OF_SHAPE, [], shape=(512, 512), value=1.0, dtype=DType.FLOAT32)
    small = apply(g, Op.CONSTANT_OF_SHAPE, [], shape=(4,), value=1.0, dtype=DType.FLOAT32)
    g.add_output(big.output, "big")
    g.add_output(small.output, "small")
    assert "grow the model" in fold_decision(big)
    assert fold_decision(small) is None
    assert "cap" in fold_decision(big, max_bytes=1024)
    assert fold_constants(g)
    assert [n.op for n in g.nodes] == [Op.CONSTANT_OF_SHAPE]


def test_symbolic_shapes_are_not_folded():
    from cortado.ir import Sym

    g = Graph()
    x = g.add_input("x", TensorType((Sym("N"), 2), "float32"))
    g.add_output(apply(g, Op.RELU, [x]).output, "y")
    assert fold_decision(g.nodes[0]) == "an input is not constant"
    assert not fold_constants(g)
