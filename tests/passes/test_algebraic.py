"""Algebraic simplification: property test and one before/after case per rule family."""

import numpy as np
import pytest

from cortado.ir import DType, Graph, Op, TensorType
from cortado.ops import apply
from cortado.testing import check_pass, check_pass_on
from cortado.passes.algebraic import simplify


def test_simplify_preserves_semantics(counted):
    p = counted(simplify)
    check_pass(p, idempotent=True)
    p.assert_exercised(0.2)


def _g(shape=(2, 3), dtype="float32"):
    g = Graph()
    return g, g.add_input("x", TensorType(shape, dtype))


def _ops(g):
    return [n.op for n in g.nodes]


@pytest.mark.parametrize("op,value,left", [(Op.ADD, 0, False), (Op.ADD, 0, True), (Op.SUB, 0, False),
                                           (Op.MUL, 1, True), (Op.DIV, 1, False), (Op.POW, 1, False)])
def test_neutral_constants_vanish(op, value, left):
    g, x = _g()
    c = g.add_constant(np.full((3,), value, np.float32))
    y = apply(g, op, [c, x] if left else [x, c]).output
    g.add_output(apply(g, Op.RELU, [y]).output, "y")
    out = check_pass_on(simplify, g)
    assert _ops(out) == [Op.RELU] and out.nodes[0].inputs[0] is out.inputs[0]


def test_neutral_constant_that_broadcasts_up_stays():
    g, x = _g((3,))
    zeros = g.add_constant(np.zeros((2, 3), np.float32))
    g.add_output(apply(g, Op.ADD, [x, zeros]).output, "y")
    assert not simplify(g)
    assert _ops(g) == [Op.ADD]


def test_left_zero_of_sub_and_left_one_of_div_stay():
    g, x = _g()
    g.add_output(apply(g, Op.SUB, [g.add_constant(np.zeros(3, np.float32)), x]).output, "neg")
    g.add_output(apply(g, Op.DIV, [g.add_constant(np.ones(3, np.float32)), x]).output, "rcp")
    assert not simplify(g)


def test_identity_dropout_and_single_concat_vanish():
    g, x = _g()
    y = apply(g, Op.IDENTITY, [x]).output
    y = apply(g, Op.DROPOUT, [y]).output
    y = apply(g, Op.CONCAT, [y], axis=1).output
    y = apply(g, Op.CLIP, [y]).output
    g.add_output(apply(g, Op.TANH, [y]).output, "y")
    assert _ops(check_pass_on(simplify, g)) == [Op.TANH]


def test_cast_round_trips():
    g, x = _g()
    wide = apply(g, Op.CAST, [apply(g, Op.CAST, [x], to=DType.FLOAT64).output], to=DType.FLOAT32).output
    narrow = apply(g, Op.CAST, [apply(g, Op.CAST, [x], to=DType.FLOAT16).output], to=DType.FLOAT32).output
    same = apply(g, Op.CAST, [x], to=DType.FLOAT32).output
    for i, v in enumerate((wide, narrow, same)):
        g.add_output(v, f"y{i}")
    out = check_pass_on(simplify, g)
    assert out.outputs[0] is out.inputs[0] and out.outputs[2] is out.inputs[0]
    assert _ops(out) == [Op.CAST, Op.CAST]   # the float16 round trip loses precision: kept


def test_transpose_chains_compose_or_cancel():
    g, x = _g((2, 3, 4))
    t = apply(g, Op.TRANSPOSE, [x], perm=(1, 2, 0)).output
    back = apply(g, Op.TRANSPOSE, [t], perm=(2, 0, 1)).output      # inverse
    other = apply(g, Op.TRANSPOSE, [apply(g, Op.TRANSPOSE, [x], perm=(1, 0, 2)).output], perm=(0, 2, 1)).output
    g.add_output(back, "back")
    g.add_output(other, "other")
    out = check_pass_on(simplify, g)
    assert out.outputs[0] is out.inputs[0]
    assert _ops(out) == [Op.TRANSPOSE] and out.nodes[0].attrs.perm == (1, 2, 0)


def test_reshape_chains_collapse():
    g, x = _g((2, 3, 4))
    r = apply(g, Op.RESHAPE, [apply(g, Op.RESHAPE, [x], shape=(6, 4)).output], shape=(24,)).output
    same = apply(g, Op.RESHAPE, [x], shape=(2, 3, 4)).output
    g.add_output(r, "flat")
    g.add_output(same, "same")
    out = check_pass_on(simplify, g)
    assert _ops(out) == [Op.RESHAPE] and out.nodes[0].inputs[0] is out.inputs[0]
    assert out.outputs[1] is out.inputs[0]


def test_trivial_pools_vanish():
    g, x = _g((1, 2, 3, 3))
    one = dict(kernel_shape=(1, 1), strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1))
    y = apply(g, Op.MAX_POOL, [x], **one).output
    y = apply(g, Op.AVERAGE_POOL, [y], **one).output
    pooled = apply(g, Op.GLOBAL_AVERAGE_POOL, [y]).output
    g.add_output(apply(g, Op.GLOBAL_MAX_POOL, [pooled]).output, "y")
    assert _ops(check_pass_on(simplify, g)) == [Op.GLOBAL_AVERAGE_POOL]
