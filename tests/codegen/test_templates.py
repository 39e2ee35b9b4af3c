"""The template registry: every op belongs to exactly one kernel kind, every kind that
launches a kernel renders, and the lowering table gives each op one lowering."""

from __future__ import annotations

import pytest

import cortado.codegen.templates  # noqa: F401  (registers the kinds)
from cortado.codegen.lowering import LoweringKind, lowering_for, register
from cortado.ir import DType, Graph, Op, TensorType
from cortado.kernel_groups import Kind, KindRegistry, Template
from cortado.ops import Category, all_ops, apply


def _conv(cin_per_group: int, group: int):
    """A lone Conv node (whether it is depthwise depends on its weights and groups)."""
    g = Graph("t")
    x = g.add_input("x", TensorType((1, 4, 5, 5), DType.FLOAT32))
    w = g.add_input("w", TensorType((4, cin_per_group, 3, 3), DType.FLOAT32))
    return apply(g, Op.CONV, [x, w], group=group, kernel_shape=(3, 3), strides=(1, 1), dilations=(1, 1),
                 pads=(0, 0, 0, 0))


def test_every_op_is_anchored_by_exactly_one_template():
    class Fake:
        def __init__(self, op):
            self.op = op
            self.name = op.value
    for d in all_ops():
        if d.op is Op.CONV:
            continue          # depends on the weights: checked below
        owners = [t.name for t in Kind if t.anchors(Fake(d.op))]
        assert len(owners) == 1, (d.op.value, owners)


def test_depthwise_conv_is_a_window_op_and_other_convs_are_conv():
    assert Kind.anchoring(_conv(1, 4)) is Kind.POINTWISE
    assert Kind.anchoring(_conv(4, 1)) is Kind.CONV
    assert Kind.anchoring(_conv(2, 2)) is Kind.CONV


def test_kinds_that_launch_kernels_render():
    for t in Kind:
        if t.has_kernel:
            assert type(t).generate is not Template.generate, t.name
        assert Kind(t.name) is t and repr(t) == f"Kind.{t.name.upper()}" and t.value == t.name


def test_the_registry_refuses_two_templates_of_one_name():
    reg = KindRegistry()

    class A(Template):
        name = "dup"

    class B(Template):
        name = "dup"
    reg.register(A())
    with pytest.raises(ValueError, match="registered twice"):
        reg.register(B())
    with pytest.raises(AttributeError, match="no kernel kind"):
        reg.NOPE


def test_lowering_for_names_one_way_per_op():
    assert lowering_for(Op.ADD).kind is LoweringKind.EXPR
    assert lowering_for(Op.TRANSPOSE).kind is LoweringKind.INDEX
    assert lowering_for(Op.SOFTMAX).kind is LoweringKind.ROW
    assert lowering_for(Op.CUM_SUM) is None          # its template renders it
    with pytest.raises(ValueError, match="already has"):
        register(LoweringKind.INDEX, Op.ADD)(lambda *a: "")
    for d in all_ops():
        if d.category is Category.ELEMENTWISE:
            assert lowering_for(d.op) is not None, d.op.value
