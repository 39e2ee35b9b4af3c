"""The pipeline per opt level: on random graphs, on ResNet-50, on an exported attention block."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cortado
from cortado.errors import CortadoError
from cortado.ir import DType, Graph, Op, Sym, TensorType
from cortado.ops import apply
from cortado.pipeline import pass_names, passes_for, run_pipeline
from cortado.testing import check_pass, check_pass_on, strategies
from cortado.testing.models import light_model
from cortado.testing.reference import assert_close, run_onnxruntime


def _as_pass(opt_level):
    def pipeline(graph) -> bool:
        return any(r["changed"] for r in run_pipeline(graph, opt_level=opt_level, verify=True))
    pipeline.__name__ = f"pipeline_O{opt_level}"
    return pipeline


@pytest.mark.parametrize("level", [1, 2])
def test_whole_pipeline_preserves_semantics(level):
    check_pass(_as_pass(level), graphs=strategies.graphs(max_nodes=10), idempotent=True)


def _small():
    g = Graph()
    x = g.add_input("x", TensorType((1, 2, 3, 3), "float32"))
    y = apply(g, Op.DROPOUT, [apply(g, Op.IDENTITY, [x]).output]).output
    g.add_output(apply(g, Op.RELU, [y]).output, "y")
    return g


def test_o0_runs_nothing_and_o3_is_o2():
    g = _small()
    assert run_pipeline(g, opt_level=0) == [] and len(g) == 3
    assert passes_for(3) == passes_for(2)


def test_disable_and_dump_after_parameters():
    g = _small()
    dumped = []
    table = run_pipeline(g, opt_level=1, disable={"simplify"}, dump_after={"cse", "cleanup"},
                         dump=lambda name, graph: dumped.append(name))
    assert "simplify" not in {r["pass"] for r in table} and len(g) == 3
    assert dumped[-1] == "cleanup" and "cse" in dumped
    assert set(table[0]) >= {"pass", "seconds", "nodes_before", "nodes_after", "changed"}
    run_pipeline(g, opt_level=1)
    assert [n.op for n in g.nodes] == [Op.RELU]


def test_unknown_pass_names_are_a_clear_error():
    with pytest.raises(CortadoError, match="unknown pass name.*simplfy") as e:
        run_pipeline(_small(), opt_level=1, disable={"simplfy"})
    assert "simplify" in e.value.hint
    assert {"dce", "cse", "fold_constants", "fold_shapes", "simplify", "fold_batchnorm", "assign_layout",
            "sink_transposes", "cleanup", "optimize", "horizontal", "precision"} <= set(pass_names())


@pytest.mark.slow
def test_resnet50_has_no_batchnorm_after_o2_and_matches_onnxruntime():
    model = light_model("resnet50", seed=0)
    m = cortado.compile(model, target="interpreter", opt_level=2)
    ops = [n.op for n in m.graph.nodes]
    assert Op.BATCH_NORMALIZATION not in ops
    assert ops.count(Op.CONV) == 53 and m.stats["nodes_in"] - m.stats["nodes_out"] == 53
    assert any(r["pass"] == "fold_batchnorm" and r["changed"] for r in m.stats["passes"])
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    got = m.run({m.input_names[0]: x})
    for name, ref in zip(m.output_names, run_onnxruntime(model, {m.input_names[0]: x})):
        assert_close(got[name], ref, what=f"resnet50:{name}")


def attention_block(batch=2, seq=4, dim=8, heads=2, seed=0) -> onnx.ModelProto:
    """Self-attention as exporters write it: head shapes from Shape -> Gather -> Unsqueeze ->
    Concat -> Reshape chains, the score scale from Shape -> Gather -> Cast -> Sqrt."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    for n in "qkvo":
        const(f"W{n}", (rng.standard_normal((dim, dim)) / np.sqrt(dim)).astype(np.float32))
        const(f"b{n}", (rng.standard_normal(dim) * 0.1).astype(np.float32))
    for name, value in (("i0", 0), ("i1", 1), ("i3", 3)):
        const(name, np.array(value, np.int64))
    const("ax0", np.array([0], np.int64))
    const("heads", np.array([heads], np.int64))
    const("hd", np.array([dim // heads], np.int64))
    shape = node("Shape", ["x"], "shape")
    bu = node("Unsqueeze", [node("Gather", [shape, "i0"], "b", axis=0), "ax0"], "bu")
    su = node("Unsqueeze", [node("Gather", [shape, "i1"], "s", axis=0), "ax0"], "su")
    split = node("Concat", [bu, su, "heads", "hd"], "split_shape", axis=0)
    t = {}
    for n, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        y = node("Add", [node("MatMul", ["x", f"W{n}"], f"{n}_mm"), f"b{n}"], f"{n}_lin")
        t[n] = node("Transpose", [node("Reshape", [y, split], f"{n}_4d")], f"{n}_t", perm=perm)
    head_dim = node("Gather", [node("Shape", ["q_4d"], "q_shape"), "i3"], "head_dim", axis=0)
    scale = node("Sqrt", [node("Cast", [head_dim], "head_dim_f", to=TensorProto.FLOAT)], "scale")
    probs = node("Softmax", [node("Div", [node("MatMul", [t["q"], t["k"]], "scores"), scale], "scaled")],
                 "probs", axis=-1)
    ctx = node("Transpose", [node("MatMul", [probs, t["v"]], "ctx")], "ctx_t", perm=[0, 2, 1, 3])
    flat = node("Concat", [bu, su, node("Mul", ["heads", "hd"], "width")], "flat_shape", axis=0)
    out = node("Add", [node("MatMul", [node("Reshape", [ctx, flat], "ctx_flat"), "Wo"], "o_mm"), "bo"], "o_lin")
    node("Add", [out, "x"], "y")
    graph = helper.make_graph(nodes, "attention", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                [batch, seq, dim])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, seq, dim])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


SHAPE_OPS = {Op.SHAPE, Op.SIZE, Op.GATHER, Op.CONCAT, Op.CAST, Op.SQRT, Op.CONSTANT_OF_SHAPE}


def test_attention_block_shape_chains_fold_away():
    """End to end: no shape computation survives O1. The ONNX frontend's shape data resolves
    these chains while importing; the next test covers the chains that reach the IR."""
    model = attention_block()
    graph = cortado.load_graph(model)
    run_pipeline(graph, opt_level=1, verify=True)
    left = [n for n in graph.nodes if n.op in SHAPE_OPS or any(o.dtype.is_int for o in n.outputs)]
    assert not left, f"shape computations survive O1: {left}"
    m = cortado.compile(model, target="interpreter", opt_level=1)
    x = np.random.default_rng(2).standard_normal((2, 4, 8)).astype(np.float32)
    assert_close(m.run({"x": x})["y"], run_onnxruntime(model, {"x": x})[0], what="attention")


def test_symbolic_batch_shape_chains_fold_in_the_ir():
    """The chains a frontend without shape-data propagation would leave (or a traced
    function): static dims fold through Gather/Reshape/Concat/Mul/Cast/Sqrt, the batch stays."""
    g = Graph()
    x = g.add_input("x", TensorType((Sym("N"), 4, 8), "float32"))

    def i64(v):
        return g.add_constant(np.array(v, np.int64))

    shape = apply(g, Op.SHAPE, [x], start=0, end=3).output
    dim = {k: apply(g, Op.GATHER, [shape, i64(k)], axis=0).output for k in range(3)}
    head = apply(g, Op.RESHAPE, [dim[2]], shape=(1,)).output
    width = apply(g, Op.CONCAT, [apply(g, Op.RESHAPE, [dim[1]], shape=(1,)).output, head], axis=0).output
    area = apply(g, Op.MUL, [apply(g, Op.GATHER, [width, i64(0)], axis=0).output,
                             apply(g, Op.GATHER, [width, i64(1)], axis=0).output]).output
    scale = apply(g, Op.SQRT, [apply(g, Op.CAST, [dim[2]], to=DType.FLOAT32).output]).output
    y = apply(g, Op.DIV, [x, scale]).output
    y = apply(g, Op.MUL, [y, apply(g, Op.CAST, [area], to=DType.FLOAT32).output]).output
    batch = apply(g, Op.CAST, [dim[0]], to=DType.FLOAT32).output
    g.add_output(apply(g, Op.ADD, [y, batch]).output, "y")
    feeds = {"x": np.random.default_rng(0).standard_normal((3, 4, 8)).astype(np.float32)}
    out = check_pass_on(_as_pass(1), g, feeds)
    ops = [n.op for n in out.nodes]
    assert ops.count(Op.SHAPE) == 1 and ops.count(Op.GATHER) == 1, out      # only the batch remains
    assert Op.CONCAT not in ops and Op.SQRT not in ops and ops.count(Op.CAST) == 1
