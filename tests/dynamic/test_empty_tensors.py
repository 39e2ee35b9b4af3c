"""Empty tensors (a 0 in a shape) flow through every op: a symbolic dim bound to 0 at run time
launches no kernel for an empty output, and a reduction over an empty axis gives the identity
as onnxruntime does (ReduceSum 0, ReduceProd 1, ReduceMax -inf, ReduceLogSumExp -inf)."""

from __future__ import annotations

import numpy as np
import pytest
from dynamic_models import transformer_block
from onnx import TensorProto, helper, numpy_helper

import cortado
from cortado.testing.reference import assert_close, run_onnxruntime


TARGET = "interpreter"      # and "cpu": every test here runs on both host targets
pytestmark = pytest.mark.usefixtures("every_host_target")


def _one_node(op, x_shapes, out_dtype=TensorProto.FLOAT, inits=(), opset=18, extra_inputs=(), **attrs):
    """A model of one ``op`` node over inputs ``x0, x1, ...`` (shapes with symbolic names)."""
    names = [f"x{i}" for i in range(len(x_shapes))]
    node = helper.make_node(op, names + list(extra_inputs), ["y"], **attrs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s))
                                        for n, s in zip(names, x_shapes)],
                          [helper.make_tensor_value_info("y", out_dtype, None)],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    return helper.make_model(g, opset_imports=[helper.make_operatorsetid("", opset)])


def _feeds(model, shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {vi.name: rng.uniform(0.5, 1.5, s).astype(np.float32)
            for vi, s in zip(model.graph.input, shapes)}


def _check(model, runs, opt_level=0):
    """Compile once; run each list of input shapes against onnxruntime."""
    m = cortado.compile(model, target=TARGET, opt_level=opt_level)
    for shapes in runs:
        feeds = _feeds(model, shapes)
        got = m.run(feeds)["y"]
        exp = run_onnxruntime(model, feeds)[0]
        assert_close(got, exp, what=f"{model.graph.node[0].op_type} at {shapes}")
    return m


_AX0 = [("ax", np.array([0], np.int64))]
_AX1 = [("ax", np.array([1], np.int64))]

# name -> (model, [shapes per run]); every case has one run with a 0 somewhere
CASES = {
    "relu": (_one_node("Relu", [("N", 3)]), [[(0, 3)], [(2, 3)]]),
    "add_broadcast": (_one_node("Add", [("N", 3), (3,)]), [[(0, 3), (3,)], [(2, 3), (3,)]]),
    "mul_two_empty": (_one_node("Mul", [("N", "C"), ("N", "C")]), [[(0, 4), (0, 4)], [(3, 0), (3, 0)]]),
    "sigmoid_inner_zero": (_one_node("Sigmoid", [(2, "S", 3)]), [[(2, 0, 3)], [(2, 5, 3)]]),
    **{f"{op}_empty_axis": (_one_node(op, [("N", 3)], inits=_AX0, extra_inputs=["ax"], keepdims=1),
                            [[(0, 3)], [(4, 3)]])
       for op in ("ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin", "ReduceMean", "ReduceLogSumExp",
                  "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum")},
    "reduce_sum_empty_rows": (_one_node("ReduceSum", [("N", 3)], inits=_AX1, extra_inputs=["ax"], keepdims=0),
                              [[(0, 3)], [(2, 3)]]),
    "reduce_max_no_keepdims": (_one_node("ReduceMax", [(2, "K")], inits=_AX1, extra_inputs=["ax"], keepdims=0),
                               [[(2, 0)], [(2, 5)]]),
    "matmul_k0": (_one_node("MatMul", [(4, "K"), ("K", 5)]), [[(4, 0), (0, 5)], [(4, 3), (3, 5)]]),
    "matmul_m0": (_one_node("MatMul", [("M", 3), (3, 5)]), [[(0, 3), (3, 5)], [(2, 3), (3, 5)]]),
    "gemm_k0_bias": (_one_node("Gemm", [(4, "K"), ("K", 5)], inits=[("c", np.arange(5, dtype=np.float32))],
                               extra_inputs=["c"]), [[(4, 0), (0, 5)], [(4, 2), (2, 5)]]),
    "concat_empty_piece": (_one_node("Concat", [("N", 3), (2, 3)], axis=0), [[(0, 3), (2, 3)], [(1, 3), (2, 3)]]),
    "softmax_rows": (_one_node("Softmax", [("N", 5)], axis=-1), [[(0, 5)], [(3, 5)]]),
    "softmax_empty_axis": (_one_node("Softmax", [(3, "S")], axis=-1), [[(3, 0)], [(3, 4)]]),
    "transpose": (_one_node("Transpose", [("N", 2, 3)], perm=[2, 0, 1]), [[(0, 2, 3)], [(2, 2, 3)]]),
    "conv_batch0": (_one_node("Conv", [("N", 2, 5, 5)],
                              inits=[("w", np.random.default_rng(1).normal(0, 1, (3, 2, 3, 3)).astype(np.float32))],
                              extra_inputs=["w"], pads=[1, 1, 1, 1]), [[(0, 2, 5, 5)], [(2, 2, 5, 5)]]),
    "maxpool_batch0": (_one_node("MaxPool", [("N", 2, 4, 4)], kernel_shape=[2, 2], strides=[2, 2]),
                       [[(0, 2, 4, 4)], [(1, 2, 4, 4)]]),
    "layernorm_batch0": (_one_node("LayerNormalization", [("N", 4)], inits=[("g", np.ones(4, np.float32))],
                                   extra_inputs=["g"], axis=-1), [[(0, 4)], [(2, 4)]]),
    "cumsum_empty_axis": (_one_node("CumSum", [(2, "S")], inits=[("a", np.array(1, np.int64))],
                                    extra_inputs=["a"]), [[(2, 0)], [(2, 3)]]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_empty_dim_through_op(case):
    model, runs = CASES[case]
    _check(model, runs)


@pytest.mark.parametrize("case", ["ReduceSum_empty_axis", "ReduceMax_empty_axis", "ReduceProd_empty_axis",
                                  "matmul_k0", "softmax_rows", "conv_batch0"])
def test_empty_dim_through_fused_op(case):
    model, runs = CASES[case]
    _check(model, runs, opt_level=2)


def test_empty_output_launches_no_kernel():
    """Counted in the runtime's bound launches: a batch of 0 binds none for the Relu."""
    model = CASES["relu"][0]
    m = cortado.compile(model, target=TARGET, opt_level=0)
    m._prepare()
    launches, _ = m.bind({"N": 0}, {"x0": np.zeros((0, 3), np.float32)}, [np.zeros((0, 3), np.float32)])
    assert launches == []
    launches, _ = m.bind({"N": 2}, {"x0": np.zeros((2, 3), np.float32)}, [np.zeros((2, 3), np.float32)])
    assert len(launches) == 1


def test_batch_of_zero_through_a_small_cnn():
    model_path = "examples/tiny_cnn.onnx"
    import onnx
    model = onnx.load(model_path)
    m = cortado.compile(model, target=TARGET, opt_level=2)
    for n in (0, 2):
        x = np.random.default_rng(n).standard_normal((n, 3, 32, 32)).astype(np.float32)
        got = m(x)
        exp = run_onnxruntime(model, {model.graph.input[0].name: x})[0]
        assert_close(got, exp, what=f"batch {n}")


@pytest.mark.parametrize("opt_level", [0, 2])
def test_empty_batch_and_sequence_through_a_transformer_block(opt_level):
    model = transformer_block()
    m = cortado.compile(model, target=TARGET, opt_level=opt_level)
    for b, s in ((0, 5), (2, 0), (1, 3)):
        x = np.random.default_rng(b + s).standard_normal((b, s, 16)).astype(np.float32)
        assert_close(m(x), run_onnxruntime(model, {"x": x})[0], what=f"(batch, seq) = ({b}, {s})")


def test_fused_attention_with_no_keys_gives_zeros():
    """Cross attention fused into one kernel (O2) with the key length bound to 0: Softmax over an
    empty axis then MatMul with K = 0 is zeros in onnxruntime, not 0/0."""
    from dynamic_models import Builder

    b = Builder()
    scores = b("Mul", b("MatMul", "q", b("Transpose", "k", perm=[0, 2, 1])), b.const(0.5, np.float32))
    model = b.model([("q", ["B", "Sq", 8]), ("k", ["B", "Sk", 8])], b("MatMul", b("Softmax", scores, axis=-1), "k"),
                    None)
    m = cortado.compile(model, target=TARGET, opt_level=2)
    assert len(m.plan["steps"]) == 1          # one attention kernel
    rng = np.random.default_rng(0)
    for sq, sk in ((3, 4), (3, 0), (0, 4)):
        feeds = {"q": rng.standard_normal((2, sq, 8)).astype(np.float32),
                 "k": rng.standard_normal((2, sk, 8)).astype(np.float32)}
        assert_close(m.run(feeds)["y"], run_onnxruntime(model, feeds)[0], what=f"(Sq, Sk) = ({sq}, {sk})")
