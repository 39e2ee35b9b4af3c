"""If / Loop / Scan whose path is known at compile time are inlined or unrolled; ones that
depend on tensor data are reported as unsupported (not crashes)."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import cortado
from cortado.testing.reference import assert_close, run_onnxruntime

F = TensorProto.FLOAT


def _vi(name, shape=None, t=F):
    return helper.make_tensor_value_info(name, t, shape)


def _const(name, value):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value)))


def _run_both(model, feeds):
    m = cortado.compile(model, target="interpreter", opt_level=0)
    got = m.run({k: v for k, v in feeds.items() if k in m.input_names})
    for o, exp in zip(model.graph.output, run_onnxruntime(model, feeds)):
        assert_close(got[o.name], exp, exp.dtype.name, what=o.name)
    return m


def _if_on_rank_model():
    """y = x * 2 when x has 3 columns (it has), else x + 100: the condition comes from Shape."""
    then = helper.make_graph([helper.make_node("Mul", ["x", "two"], ["t_out"])], "then", [], [_vi("t_out")])
    other = helper.make_graph([helper.make_node("Add", ["x", "hundred"], ["e_out"])], "else", [], [_vi("e_out")])
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "one"], ["cols"]),
             helper.make_node("Equal", ["cols", "three"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)]
    g = helper.make_graph(nodes, "g", [_vi("x", ["N", 3])], [_vi("y", None)],
                          [numpy_helper.from_array(np.array(v), k) for k, v in
                           {"one": np.int64(1), "three": np.int64(3), "two": np.float32(2),
                            "hundred": np.float32(100)}.items()])
    return helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 13)])


def test_if_on_a_static_shape_is_inlined():
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    m = _run_both(_if_on_rank_model(), {"x": x})
    assert {n.op.value for n in m.graph.nodes} == {"Mul"}


def test_if_on_tensor_data_runs_its_branch_at_run_time():
    then = helper.make_graph([_const("a", np.float32(1))], "t", [], [_vi("a", [])])
    other = helper.make_graph([_const("b", np.float32(2))], "e", [], [_vi("b", [])])
    g = helper.make_graph([helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other, name="branch")],
                          "g", [_vi("c", [], TensorProto.BOOL)], [_vi("y", [])])
    model = helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 13)])
    for c in (True, False):        # a data condition: a host step picks the branch's sub-plan
        m = _run_both(model, {"c": np.array(c)})
    assert [s["host"] for s in m.plan["steps"] if "host" in s] == ["If"]


def test_loop_with_a_static_trip_count_unrolls():
    # acc_{i+1} = acc_i * 0.5 + x[i]; scan output: every acc
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Gather", ["x", "i"], ["xi"], axis=0),
         helper.make_node("Mul", ["acc_in", "half"], ["h"]),
         helper.make_node("Add", ["h", "xi"], ["acc_out"]),
         helper.make_node("Identity", ["acc_out"], ["scan"])],
        "body", [_vi("i", [], TensorProto.INT64), _vi("cond_in", [], TensorProto.BOOL), _vi("acc_in", [3])],
        [_vi("cond_out", [], TensorProto.BOOL), _vi("acc_out", [3]), _vi("scan", [3])])
    g = helper.make_graph([helper.make_node("Loop", ["n", "", "acc0"], ["acc", "all"], body=body)], "g",
                          [_vi("x", [4, 3])], [_vi("acc", [3]), _vi("all", [4, 3])],
                          [numpy_helper.from_array(np.array(4, np.int64), "n"),
                           numpy_helper.from_array(np.zeros(3, np.float32), "acc0"),
                           numpy_helper.from_array(np.float32(0.5), "half")])
    model = helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 13)])
    _run_both(model, {"x": np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)})


def test_loop_with_a_data_dependent_condition_runs_at_run_time():
    body = helper.make_graph(
        [helper.make_node("Less", ["acc_in", "x"], ["cond_out"]),
         helper.make_node("Add", ["acc_in", "one"], ["acc_out"])],
        "body", [_vi("i", [], TensorProto.INT64), _vi("c", [], TensorProto.BOOL), _vi("acc_in", [])],
        [_vi("cond_out", [], TensorProto.BOOL), _vi("acc_out", [])])
    g = helper.make_graph([helper.make_node("Loop", ["", "", "zero"], ["acc"], body=body)], "g", [_vi("x", [])],
                          [_vi("acc", [])], [numpy_helper.from_array(np.float32(0), "zero"),
                                             numpy_helper.from_array(np.float32(1), "one")])
    model = helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 13)])
    for x in (0.5, 4.0, 7.5):      # acc counts up while it is below x: 1, 4 and 8 iterations
        m = _run_both(model, {"x": np.array(x, np.float32)})
    assert [s["host"] for s in m.plan["steps"] if "host" in s] == ["Loop"]


def test_scan_unrolls_over_a_static_length():
    body = helper.make_graph([helper.make_node("Add", ["s_in", "xt"], ["s_out"]),
                              helper.make_node("Mul", ["s_out", "xt"], ["y_t"])],
                             "body", [_vi("s_in", [2]), _vi("xt", [2])], [_vi("s_out", [2]), _vi("y_t", [2])])
    node = helper.make_node("Scan", ["s0", "x"], ["s", "y"], body=body, num_scan_inputs=1,
                            scan_input_directions=[1], scan_output_axes=[1])
    g = helper.make_graph([node], "g", [_vi("s0", [2]), _vi("x", [5, 2])], [_vi("s", [2]), _vi("y", [2, 5])])
    model = helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 11)])
    rng = np.random.default_rng(2)
    _run_both(model, {"s0": rng.standard_normal(2).astype(np.float32),
                      "x": rng.standard_normal((5, 2)).astype(np.float32)})
