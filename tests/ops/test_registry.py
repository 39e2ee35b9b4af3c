"""Every IR op is registered once with inference, a reference and a Triton lowering."""

import dataclasses

import pytest

from cortado.codegen import exprs
from cortado.codegen.generate import has_generator
from cortado.codegen.templates.host import has_host_step
from cortado.codegen.templates.reduction import has_spec
from cortado.codegen.writer import has_lowering
from cortado.ir import Op
from cortado.ops import Category, all_ops, register_op


def lowering_of(d) -> bool:
    if d.category is Category.ELEMENTWISE:
        return exprs.has_lowering(d.op) or has_lowering(d.op)
    if d.category in (Category.VIEW, Category.WINDOW):
        return has_lowering(d.op)
    if d.category in (Category.REDUCTION, Category.NORMALIZATION):
        return has_spec(d.op) or has_generator(d.op)
    if d.category is Category.CONTRACTION:
        return True   # the GEMM template
    if d.op is Op.CONV:
        return True   # the implicit-GEMM template and the depthwise window lowering
    if d.category is Category.HOST:
        return has_host_step(d.op)   # data-dependent sizes: numpy between segments, no kernel
    return has_generator(d.op)


def test_every_registered_op_is_complete():
    missing = []
    for d in all_ops():
        assert dataclasses.is_dataclass(d.attrs) and d.attrs.__dataclass_params__.frozen, d.op
        assert callable(d.infer) and callable(d.reference), d.op
        assert d.doc, f"{d.op.value} has no docstring"
        if not lowering_of(d):
            missing.append(d.op.value)
    assert not missing, f"registered ops without a Triton lowering: {missing}"


def test_duplicate_registration_is_an_error():
    with pytest.raises(RuntimeError, match="registered twice"):
        @register_op(Op.RELU, Category.ELEMENTWISE, inputs=("X",))
        class Again:
            def infer(a, x):
                return [x]

            def reference(a, x):
                return x


def test_unknown_attribute_is_refused():
    from cortado.errors import ModelFormatError
    from cortado.ops import make_attrs

    with pytest.raises(ModelFormatError, match="has no attribute.*known: alpha"):
        make_attrs("LeakyRelu", slope=0.1)
