"""The op registry for the ONNX op set: every registered op can be lowered to a kernel, its
canonical attributes are checked by ``infer`` (a frontend bug fails loudly, with a ShapeError
that says what is wrong), and the references follow ONNX on the cases that are easy to get
wrong (ties, duplicates, negative indices, empty reductions)."""

from __future__ import annotations

import numpy as np
import pytest

from cortado.ir import DType, Graph, Op, TensorType
from cortado.ops import all_ops, apply, evaluate, get_op, make_attrs
from cortado.ops.registry import infer_types
from cortado.runtime.errors import ShapeError


def _lowered(op: Op) -> bool:
    import cortado.codegen.generate as gen
    from cortado.codegen import exprs, writer
    from cortado.codegen.templates import reduction, row_specs  # noqa: F401  (registers the row specs)
    from cortado.codegen.templates.host import has_host_step

    return (exprs.has_lowering(op) or writer.has_lowering(op) or reduction.has_spec(op) or gen.has_generator(op)
            or op in (Op.MATMUL, Op.GEMM, Op.CONV) or has_host_step(op))


def test_every_registered_op_has_a_kernel():
    missing = [d.op.value for d in all_ops() if not _lowered(d.op)]
    assert not missing, f"ops without a lowering, row spec or generator: {missing}"


def test_every_enum_member_is_registered():
    registered = {d.op for d in all_ops()}
    assert [o.value for o in Op if o not in registered] == []


def T(*shape, dtype=DType.FLOAT32):
    return TensorType(shape, dtype)


@pytest.mark.parametrize("op, attrs, inputs, message", [
    (Op.SLICE, dict(starts=(0,), ends=(9,), steps=(1,)), [T(4)], "resolved"),
    (Op.SLICE, dict(starts=(0, 0), ends=(1, 1), steps=(1, 0)), [T(4, 4)], "non-zero"),
    (Op.GATHER, dict(axis=0), [T(4), T(2, dtype=DType.FLOAT32)], "int32 or int64"),
    (Op.TOP_K, dict(k=5, axis=0), [T(4)], "out of range"),
    (Op.REDUCE_SUM, dict(axes=(1, 0), keepdims=1), [T(2, 3)], "sorted"),
    (Op.REDUCE_SUM, dict(axes=(), keepdims=1), [T(2, 3)], "resolved"),
    (Op.PAD, dict(pads=(0, 4, 0, 4), mode="reflect"), [T(2, 3)], "longer"),
    (Op.RESIZE, dict(sizes=(2, 2), scales=(1.0, 1.0), mode="area"), [T(2, 2)], "unknown"),
    (Op.SCATTER_ND, dict(reduction="none"), [T(4, 3), T(2, 1, dtype=DType.INT64), T(2, 2)], "do not fit"),
    (Op.LAYER_NORMALIZATION, dict(axis=1, epsilon=1e-5), [T(2, 3), T(4)], "broadcast"),
    (Op.GROUP_NORMALIZATION, dict(num_groups=4), [T(1, 6, 2), T(6), T(6)], "groups"),
    (Op.EXPAND, dict(shape=(3, 4)), [T(2, 4)], "broadcast"),
    (Op.ONE_HOT, dict(axis=5, depth=3), [T(2, dtype=DType.INT64), T(2)], "resolved"),
])
def test_infer_rejects_non_canonical_attributes(op, attrs, inputs, message):
    with pytest.raises(ShapeError, match=message):
        infer_types(op, make_attrs(op, **attrs), inputs)


def _run(op, arrays, **attrs):
    g = Graph("t")
    ins = [g.add_input(f"x{i}", TensorType(a.shape, DType.from_numpy(a.dtype))) for i, a in enumerate(arrays)]
    n = apply(g, op, ins, **attrs)
    for k, v in enumerate(n.outputs):
        g.add_output(v, f"y{k}")
    out = evaluate(g, {f"x{i}": a for i, a in enumerate(arrays)})
    return [out[f"y{k}"] for k in range(len(n.outputs))]


def test_topk_ties_keep_the_lower_index_first():
    x = np.array([[3, 1, 3, 2, 3]], np.float32)
    v, i = _run(Op.TOP_K, [x], k=3, axis=1, largest=1, sorted=1)
    np.testing.assert_array_equal(i, [[0, 2, 4]])
    v, i = _run(Op.TOP_K, [x], k=2, axis=1, largest=0, sorted=1)
    np.testing.assert_array_equal(i, [[1, 3]])


def test_scatter_elements_applies_duplicates_in_order():
    data = np.zeros((1, 3), np.float32)
    idx = np.array([[1, 1, 2]], np.int64)
    upd = np.array([[2.0, 5.0, 7.0]], np.float32)
    (y,) = _run(Op.SCATTER_ELEMENTS, [data, idx, upd], axis=1, reduction="none")
    np.testing.assert_array_equal(y, [[0, 5, 7]])
    (y,) = _run(Op.SCATTER_ELEMENTS, [data + 1, idx, upd], axis=1, reduction="mul")
    np.testing.assert_array_equal(y, [[1, 10, 7]])


def test_gather_wraps_negative_indices_and_refuses_out_of_range():
    x = np.arange(5, dtype=np.float32)
    (y,) = _run(Op.GATHER, [x, np.array([-1, 0], np.int64)], axis=0)
    np.testing.assert_array_equal(y, [4, 0])
    with pytest.raises(IndexError):
        _run(Op.GATHER, [x, np.array([5], np.int64)], axis=0)


def test_empty_reductions_give_the_identity():
    x = np.zeros((2, 0, 3), np.float32)
    for op, value in [(Op.REDUCE_SUM, 0.0), (Op.REDUCE_PROD, 1.0), (Op.REDUCE_MAX, -np.inf), (Op.REDUCE_MIN, np.inf),
                      (Op.REDUCE_LOG_SUM_EXP, -np.inf)]:
        (y,) = _run(op, [x], axes=(1,), keepdims=0)
        assert y.shape == (2, 3) and np.all(y == value), op


def test_cumprod_exclusive_needs_no_division():
    x = np.array([[2.0, 0.0, 3.0, 4.0]], np.float32)
    (y,) = _run(Op.CUM_PROD, [x], axis=1, exclusive=1, reverse=0)
    np.testing.assert_array_equal(y, [[1, 2, 0, 0]])
    (y,) = _run(Op.CUM_PROD, [x], axis=1, exclusive=1, reverse=1)
    np.testing.assert_array_equal(y, [[0, 12, 4, 1]])


def test_categories_drive_kernel_kinds():
    from cortado.ops import Category

    assert get_op(Op.GATHER).category is Category.VIEW
    assert get_op(Op.CUM_SUM).category is Category.SCAN
    assert get_op(Op.SCATTER_ND).category is Category.SCATTER
    assert get_op(Op.SHAPE).category is Category.SHAPE
    assert get_op(Op.LAYER_NORMALIZATION).category is Category.NORMALIZATION
    assert get_op(Op.ARG_MAX).category is Category.REDUCTION
