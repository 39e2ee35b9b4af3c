"""IR -> ONNX: each op's export runs in onnxruntime to what the numpy reference computes;
names, symbolic dims and opset choice; unsupported ops are reported together."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from cortado.errors import ShapeError, UnsupportedOpError
from cortado.exporters import export_onnx, exportable_ops
from cortado.exporters import onnx_export
from cortado.ir import DType, Graph, Op, Sym, TensorType
from cortado.ops import all_ops, apply, evaluate
from cortado.testing.reference import assert_close, run_onnxruntime


def single(op, shapes, attrs=None, *, dtypes=None, consts=None, seed=0, positive=False):
    """A graph applying ``op`` to fresh inputs (or given constants); random feeds for them."""
    rng = np.random.default_rng(seed)
    g = Graph(f"one_{op}")
    ins, feeds = [], {}
    for i, shape in enumerate(shapes):
        if consts and i in consts:
            ins.append(None if consts[i] is None else g.add_constant(consts[i], name=f"c{i}"))
            continue
        dt = (dtypes or {}).get(i, "float32")
        v = g.add_input(f"x{i}", TensorType(shape, dt))
        ins.append(v)
        if dt == "bool":
            feeds[v.name] = rng.random(shape) > 0.5
        elif DType(dt).is_float:
            a = rng.standard_normal(shape)
            feeds[v.name] = (np.abs(a) + 0.1 if positive else a).astype(dt)
        else:
            feeds[v.name] = rng.integers(-5, 6, shape).astype(dt)
    node = apply(g, op, ins, **(attrs or {}))
    for i, out in enumerate(node.outputs):
        g.add_output(out, f"y{i}")
    return g, feeds


def check(graph, feeds, **kw):
    model = export_onnx(graph, **kw)
    onnx.checker.check_model(model, full_check=True)
    expected = evaluate(graph, feeds)
    got = run_onnxruntime(model, feeds)
    for name, actual in zip(graph.output_names, got):
        assert_close(actual, expected[name], what=name)
    return model


UNARY = [Op.ABS, Op.NEG, Op.EXP, Op.FLOOR, Op.CEIL, Op.SIGN, Op.RELU, Op.SIGMOID, Op.TANH, Op.ERF, Op.SIN, Op.COS,
         Op.TAN, Op.ATAN, Op.SINH, Op.COSH, Op.ASINH, Op.SOFTPLUS, Op.SOFTSIGN, Op.HARD_SWISH, Op.MISH, Op.IDENTITY,
         Op.DROPOUT, Op.ROUND, Op.LEAKY_RELU, Op.ELU, Op.SELU, Op.CELU, Op.HARD_SIGMOID, Op.THRESHOLDED_RELU, Op.SHRINK]
POSITIVE = [Op.LOG, Op.SQRT, Op.RECIPROCAL, Op.ACOSH]


@pytest.mark.parametrize("op", UNARY + POSITIVE + [Op.ASIN, Op.ACOS, Op.ATANH], ids=str)
def test_unary(op):
    g, feeds = single(op, [(3, 4)], positive=op in POSITIVE)
    if op in (Op.ASIN, Op.ACOS, Op.ATANH):
        feeds = {"x0": np.linspace(-0.9, 0.9, 12, dtype=np.float32).reshape(3, 4)}
    if op is Op.ACOSH:
        feeds = {"x0": feeds["x0"] + 1}
    check(g, feeds)


@pytest.mark.parametrize("op", [Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.MAX, Op.MIN, Op.PRELU], ids=str)
def test_binary_with_broadcasting(op):
    g, feeds = single(op, [(2, 3, 4), (3, 1)])
    check(g, feeds)


@pytest.mark.parametrize("op", [Op.EQUAL, Op.LESS, Op.LESS_OR_EQUAL, Op.GREATER, Op.GREATER_OR_EQUAL], ids=str)
def test_comparisons(op):
    g, feeds = single(op, [(2, 5), (5,)], dtypes={0: "int32", 1: "int32"})
    check(g, feeds)


def test_logic_bitwise_and_integer_ops():
    for op in (Op.AND, Op.OR, Op.XOR):
        check(*single(op, [(4,), (4,)], dtypes={0: "bool", 1: "bool"}))
    check(*single(Op.NOT, [(4,)], dtypes={0: "bool"}))
    for op in (Op.BITWISE_AND, Op.BITWISE_OR, Op.BITWISE_XOR):
        check(*single(op, [(4,), (4,)], dtypes={0: "int32", 1: "int32"}))
    check(*single(Op.BITWISE_NOT, [(4,)], dtypes={0: "int32"}))
    check(*single(Op.MOD, [(6,), (6,)], {"fmod": 1}, consts={1: np.array([3, -2, 5, 7, 2, 3], np.float32)}))
    check(*single(Op.IS_NAN, [(3,)], consts={0: np.array([1.0, np.nan, 0.0], np.float32)}))
    check(*single(Op.IS_INF, [(3,)], {"detect_negative": 0}, consts={0: np.array([np.inf, -np.inf, 0], np.float32)}))
    check(*single(Op.BIT_SHIFT, [(3,), (3,)], {"direction": "RIGHT"},
                  consts={0: np.array([8, 16, 5], np.uint8), 1: np.array([1, 2, 0], np.uint8)}))


def test_pow_cast_clip_where():
    check(*single(Op.POW, [(3, 4), ()], positive=True, consts={1: np.array(1.7, np.float32)}))
    check(*single(Op.CAST, [(3, 4)], {"to": DType.INT32}))
    check(*single(Op.CLIP, [(3, 4), (), ()], consts={1: np.array(-0.5, np.float32), 2: np.array(0.5, np.float32)}))
    check(*single(Op.CLIP, [(3, 4), (), ()], consts={1: None, 2: np.array(0.5, np.float32)}))
    check(*single(Op.WHERE, [(3, 4), (3, 4), (4,)], dtypes={0: "bool"}))


def test_gelu_raises_the_opset():
    g, feeds = single(Op.GELU, [(3, 4)], {"approximate": "tanh"})
    model = check(g, feeds)
    assert model.opset_import[0].version == 20
    with pytest.raises(UnsupportedOpError, match="needs opset 20"):
        export_onnx(g, opset=17)
    assert export_onnx(single(Op.RELU, [(2,)])[0]).opset_import[0].version == 17


CONV = {"kernel_shape": (3, 3), "strides": (2, 1), "pads": (1, 0, 1, 2), "dilations": (1, 2), "group": 2}


def test_windows_and_contractions():
    w = np.random.default_rng(1).standard_normal((4, 2, 3, 3)).astype(np.float32)
    check(*single(Op.CONV, [(1, 4, 7, 8), w.shape, (4,)], CONV, consts={1: w}))
    wt = np.random.default_rng(2).standard_normal((4, 3, 3, 3)).astype(np.float32)
    check(*single(Op.CONV_TRANSPOSE, [(1, 4, 3, 4), wt.shape], dict(CONV, group=1, output_padding=(1, 0)),
                  consts={1: wt}))
    pool = {"kernel_shape": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1), "dilations": (1, 1), "ceil_mode": 1}
    check(*single(Op.MAX_POOL, [(1, 2, 6, 7)], pool))
    check(*single(Op.MAX_POOL, [(1, 2, 9, 9)], dict(pool, dilations=(2, 2), pads=(0, 0, 0, 0))))
    for cip in (0, 1):
        check(*single(Op.AVERAGE_POOL, [(1, 2, 6, 7)], dict(pool, count_include_pad=cip)))
    check(*single(Op.LP_POOL, [(1, 2, 6, 6)], dict(pool, ceil_mode=0, p=2)))
    check(*single(Op.GLOBAL_AVERAGE_POOL, [(2, 3, 4, 5)]))
    check(*single(Op.GLOBAL_MAX_POOL, [(2, 3, 4, 5)]))
    check(*single(Op.LRN, [(1, 6, 3, 3)], {"size": 3, "alpha": 0.01, "beta": 0.6, "bias": 2.0}))
    check(*single(Op.GEMM, [(3, 5), (4, 5), (4,)], {"alpha": 0.5, "beta": 2.0, "transB": 1}))
    check(*single(Op.MATMUL, [(2, 3, 5), (5, 4)]))
    check(*single(Op.SOFTMAX, [(2, 3, 4)], {"axis": 1}))
    check(*single(Op.LOG_SOFTMAX, [(2, 3, 4)], {"axis": 2}))
    rng = np.random.default_rng(3)
    bn = {i: rng.uniform(0.5, 1.5, 3).astype(np.float32) for i in range(1, 5)}
    check(*single(Op.BATCH_NORMALIZATION, [(2, 3, 4), (3,), (3,), (3,), (3,)], {"epsilon": 1e-3}, consts=bn))


def test_data_movement():
    check(*single(Op.RESHAPE, [(2, 3, 4)], {"shape": (4, 6)}))
    check(*single(Op.RESHAPE, [(2, 3, 0)], {"shape": (0, 5)}))
    check(*single(Op.TRANSPOSE, [(2, 3, 4)], {"perm": (2, 0, 1)}))
    check(*single(Op.CONCAT, [(2, 3), (2, 1), (2, 2)], {"axis": 1}))
    check(*single(Op.CONSTANT_OF_SHAPE, [], {"shape": (2, 3), "value": 1.5, "dtype": DType.FLOAT32}))


def test_symbolic_batch_dims_become_dim_params():
    g = Graph("sym")
    x = g.add_input("x", TensorType((Sym("N"), 3, 4), "float32"))
    r = apply(g, Op.RESHAPE, [x], shape=(Sym("N"), 12)).outputs[0]
    y = apply(g, Op.RESHAPE, [apply(g, Op.RELU, [r]).outputs[0]], shape=(Sym("N") * 2, 6)).outputs[0]
    g.add_output(y, "y")
    model = export_onnx(g)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    for n in (1, 5):
        x = np.random.default_rng(n).standard_normal((n, 3, 4)).astype(np.float32)
        np.testing.assert_array_equal(run_onnxruntime(model, {"x": x})[0], np.maximum(x, 0).reshape(2 * n, 6))


def test_two_moving_symbolic_dims_cannot_be_exported():
    g = Graph("sym2")
    x = g.add_input("x", TensorType((Sym("A"), Sym("B")), "float32"))
    g.add_output(apply(g, Op.RESHAPE, [x], shape=(Sym("B"), Sym("A"))).outputs[0], "y")
    with pytest.raises(ShapeError, match="more than one symbolic dim moves"):
        export_onnx(g)


def test_output_names_are_kept_even_when_values_repeat_or_are_inputs():
    g = Graph("names")
    x = g.add_input("x", TensorType((2,), "float32"))
    r = apply(g, Op.RELU, [x], output_names=["relu_value"]).outputs[0]
    g.add_output(r, "first")
    g.add_output(r, "second")
    g.add_output(x, "echo")
    c = g.add_constant(np.array([1.0, 2.0], np.float32), name="k")
    g.add_output(c, "constant")
    model = export_onnx(g)
    assert [o.name for o in model.graph.output] == ["first", "second", "echo", "constant"]
    feeds = {"x": np.array([-1.0, 3.0], np.float32)}
    first, second, echo, constant = run_onnxruntime(model, feeds)
    assert first.tolist() == second.tolist() == [0.0, 3.0]
    assert echo.tolist() == [-1.0, 3.0] and constant.tolist() == [1.0, 2.0]


def test_every_registered_op_has_an_exporter():
    missing = [d.op.value for d in all_ops() if d.op not in set(exportable_ops())]
    assert not missing, f"IR ops without an ONNX exporter: {missing}"


def test_ops_without_an_exporter_are_reported_together(monkeypatch):
    g = Graph("unsupported")
    x = g.add_input("x", TensorType((2,), "float32"))
    a = apply(g, Op.RELU, [x], name="r1").outputs[0]
    b = apply(g, Op.TANH, [a], name="t1").outputs[0]
    g.add_output(apply(g, Op.RELU, [b], name="r2").outputs[0], "y")
    monkeypatch.setattr(onnx_export, "_PLAIN", onnx_export._PLAIN - {Op.RELU, Op.TANH})
    with pytest.raises(UnsupportedOpError) as e:
        export_onnx(g)
    assert [(op, name.split("_")[0]) for op, name, _ in e.value.items] == [("Relu", "r1"), ("Tanh", "t1"),
                                                                           ("Relu", "r2")]
    assert "no ONNX exporter" in e.value.items[0][2]


def test_output_names_that_clash_with_other_values():
    """An internal value holding an output's name gives it up; a graph input keeps its name
    and the output becomes name_1 (ONNX names are unique)."""
    g = Graph("clash")
    x = g.add_input("x", TensorType((2,), "float32"))
    r = apply(g, Op.RELU, [x], output_names=["y"]).outputs[0]
    t = apply(g, Op.TANH, [r], output_names=["t"]).outputs[0]
    g.add_output(t, "y")        # the Relu's value is called "y" internally
    g.add_output(r, "x")        # the graph input is called "x"
    model = export_onnx(g)
    onnx.checker.check_model(model, full_check=True)
    assert [o.name for o in model.graph.output] == ["y", "x_1"]
    feeds = {"x": np.array([-1.0, 2.0], np.float32)}
    y, r_out = run_onnxruntime(model, feeds)
    np.testing.assert_allclose(y, np.tanh([0.0, 2.0]), rtol=1e-6)
    assert r_out.tolist() == [0.0, 2.0]
