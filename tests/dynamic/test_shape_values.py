"""Shape values as symbolic expressions: shape arithmetic over symbols (Shape, Gather, Slice,
Unsqueeze, Concat, Equal, Where, Max, Range) folds into symbolic dims at compile time, so ViT's
``cls_token.expand(B, -1, -1)`` compiles from either PyTorch exporter's spelling. Only values
that truly depend on tensor data stay refused."""

from __future__ import annotations

import numpy as np
import pytest
from dynamic_models import DIM, Builder, vit_cls_dynamo, vit_cls_torchscript

import cortado
from cortado.ir import Op
from cortado.runtime.errors import UnsupportedOpError
from cortado.testing.reference import assert_close, run_onnxruntime


TARGET = "interpreter"      # and "cpu": every test here runs on both host targets
pytestmark = pytest.mark.usefixtures("every_host_target")


def _check(model, feeds_list, opt_level):
    m = cortado.compile(model, target=TARGET, opt_level=opt_level)
    for feeds in feeds_list:
        exp = run_onnxruntime(model, feeds)[0]
        assert_close(m.run(feeds)["y"], exp, what=str({k: v.shape for k, v in feeds.items()}))
    return m


def _xs(*shapes):
    return [{"x": np.random.default_rng(i).standard_normal(s).astype(np.float32)} for i, s in enumerate(shapes)]


@pytest.mark.parametrize("opt_level", [0, 2])
@pytest.mark.parametrize("build", [vit_cls_torchscript, vit_cls_dynamo])
def test_vit_cls_token_expand_from_both_exporters(build, opt_level):
    m = _check(build(), _xs((1, 5, DIM), (3, 5, DIM), (6, 5, DIM)), opt_level)
    if opt_level == 0:   # the Expand's target is the symbolic (batch, 1, D): no shape node left
        (expand,) = [n for n in m.graph.nodes if n.op is Op.EXPAND]
        assert [str(d) for d in expand.attrs.shape] == ["batch", "1", str(DIM)]
        assert not any(n.op in (Op.SHAPE, Op.WHERE, Op.EQUAL) for n in m.graph.nodes)


def _reshape_model(target_fn, x_dims):
    """y = Reshape(x, target_fn(builder, Shape(x)))."""
    b = Builder()
    shape = b("Shape", "x")
    return b.model([("x", list(x_dims))], b("Reshape", "x", target_fn(b, shape)), None, opset=18)


def _gather(b, shape, i):
    return b("Unsqueeze", b("Gather", shape, b.const(i)), b.const([0]))


# each target computes the input's own shape regrouped, the way exporters write it
TARGETS = {
    # (B, S, D) -> (B*S, D) with Mul on the gathered dims
    "mul_flatten": (lambda b, s: b("Concat", b("Mul", _gather(b, s, 0), _gather(b, s, 1)), b.const([DIM]), axis=0),
                    ("batch", "seq", DIM), [(1, 3, DIM), (2, 7, DIM)]),
    # Max(seq, 0) is seq; Min(seq, seq) is seq
    "max_min": (lambda b, s: b("Concat", b("Max", _gather(b, s, 0), b.const([0])),
                               b("Min", _gather(b, s, 1), _gather(b, s, 1)), b.const([DIM]), axis=0),
                ("batch", "seq", DIM), [(1, 3, DIM), (2, 7, DIM)]),
    # Where(Equal(shape, -1), 1, shape) keeps every dim
    "where_equal": (lambda b, s: b("Where", b("Equal", s, b.const([-1, -1, -1])), b.const([1, 1, 1]), s),
                    ("batch", "seq", DIM), [(1, 3, DIM), (2, 7, DIM)]),
    # Slice of the shape: (B, S, D) -> (B, S*D) via Slice(shape, 1, 3) and ReduceProd-free Mul
    "slice_tail": (lambda b, s: b("Concat", b("Slice", s, b.const([0]), b.const([1])),
                                  b("Mul", b("Slice", s, b.const([1]), b.const([2])),
                                    b("Slice", s, b.const([2]), b.const([3]))), axis=0),
                   ("batch", "seq", DIM), [(1, 3, DIM), (2, 7, DIM)]),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_shape_arithmetic_over_symbols_folds_into_dims(name):
    fn, dims, shapes = TARGETS[name]
    m = _check(_reshape_model(fn, dims), _xs(*shapes), opt_level=0)
    (reshape,) = [n for n in m.graph.nodes if n.op is Op.RESHAPE]
    assert any(not isinstance(d, int) for d in reshape.attrs.shape)      # symbolic, not data


def test_range_over_a_symbolic_sequence_length():
    """Position ids: x + Range(0, seq) broadcast over the batch, seq the middle dim."""
    b = Builder()
    seq = b("Gather", b("Shape", "x"), b.const(1))
    pos = b("Cast", b("Range", b.const(0), seq, b.const(1)), to=1)
    y = b("Add", "x", b("Unsqueeze", pos, b.const([0, 2])))
    _check(b.model([("x", ["batch", "seq", 2])], y, None, opset=18), _xs((1, 4, 2), (2, 9, 2)), opt_level=2)


def test_a_shape_that_depends_on_whether_a_dim_is_one_is_still_refused():
    """``N == 1`` differs between bindings: the Where over it is data as far as the compiler
    can tell, and the Expand that reads it is refused with the usual message."""
    b = Builder()
    s = b("Shape", "x")
    pick = b("Where", b("Equal", s, b.const([1, 1])), b.const([4, 4]), s)
    model = b.model([("x", ["batch", 3])], b("Expand", "x", pick), None, opset=18)
    with pytest.raises(UnsupportedOpError, match=r"Expand's shape must be known at compile time.*depends on tensor data"):
        cortado.compile(model, target=TARGET, opt_level=0)


def test_a_shape_read_from_tensor_data_is_still_refused():
    b = Builder()
    shape = b("Cast", b("Abs", b("Cast", "x", to=7)), to=7)
    model = b.model([("x", [3])], b("Expand", b.const(np.ones((1, 1), np.float32), np.float32), shape), None)
    model.graph.input[0].type.tensor_type.elem_type = 1
    with pytest.raises(UnsupportedOpError, match="depends on tensor data"):
        cortado.compile(model, target=TARGET, opt_level=0)


def test_reduce_prod_of_shape_data_is_a_symbolic_flatten_size():
    """``Reshape(x, Concat(Shape(x)[:1], ReduceProd(Shape(x)[1:])))``: a flatten spelled with
    shape arithmetic, over a symbolic sequence length."""
    b = Builder()
    s = b("Shape", "x")
    rest = b("ReduceProd", b("Slice", s, b.const([1]), b.const([3])), keepdims=1)
    target = b("Concat", b("Slice", s, b.const([0]), b.const([1])), rest, axis=0)
    model = b.model([("x", ["batch", "seq", 4])], b("Reshape", "x", target), None, opset=18)
    m = _check(model, _xs((1, 3, 4), (2, 5, 4), (0, 2, 4)), opt_level=0)
    (reshape,) = [n for n in m.graph.nodes if n.op is Op.RESHAPE]
    assert [str(d) for d in reshape.attrs.shape] == ["batch", "4*seq"]
