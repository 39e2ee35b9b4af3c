"""ONNX models with control flow decided at run time, built with onnx.helper."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto as T
from onnx import helper, numpy_helper

F, I64, B = T.FLOAT, T.INT64, T.BOOL


def _vi(name, t, shape):
    return helper.make_tensor_value_info(name, t, shape)


def _init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def _model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "control", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def if_model(same_shapes: bool = True):
    """``If(sum(x) > 0)``: the then-branch scales x and adds a weight the outer graph holds; the
    else-branch subtracts y (or, with ``same_shapes=False``, keeps the first two columns, so the
    output's second dim is decided at run time)."""
    then_b = helper.make_graph([helper.make_node("Mul", ["x", "two"], ["t1"]),
                                helper.make_node("Add", ["t1", "w"], ["t_out"])],
                               "then", [], [_vi("t_out", F, None)], [_init("two", np.float32(2))])
    if same_shapes:
        else_nodes = [helper.make_node("Sub", ["x", "y"], ["e_out"])]
    else:
        else_nodes = [helper.make_node("Slice", ["y", "st", "en", "ax"], ["e_out"])]
    else_b = helper.make_graph(else_nodes, "else", [], [_vi("e_out", F, None)],
                               [_init("st", np.array([0], np.int64)), _init("en", np.array([2], np.int64)),
                                _init("ax", np.array([1], np.int64))])
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["r"], then_branch=then_b, else_branch=else_b),
             helper.make_node("Relu", ["r"], ["out"])]
    return _model(nodes, [_vi("x", F, ["N", 4]), _vi("y", F, ["N", 4])], [_vi("out", F, None)],
                  [_init("zero", np.float32(0)), _init("w", rng.standard_normal(4).astype(np.float32))])


def loop_model():
    """A Loop with a data trip count and an early exit: ``acc = 0.5 * acc + x`` while
    ``max(acc) < limit``, with ``sum(acc)`` of every iteration as a scan output."""
    body = helper.make_graph([
        helper.make_node("Mul", ["acc_in", "half"], ["a1"]),
        helper.make_node("Add", ["a1", "x"], ["acc_out"]),
        helper.make_node("ReduceMax", ["acc_out"], ["m"], keepdims=0),
        helper.make_node("Less", ["m", "limit"], ["cond_out"]),
        helper.make_node("ReduceSum", ["acc_out"], ["total"], keepdims=0),
    ], "body", [_vi("i", I64, []), _vi("cond_in", B, []), _vi("acc_in", F, ["N", 3])],
        [_vi("cond_out", B, []), _vi("acc_out", F, ["N", 3]), _vi("total", F, [])],
        [_init("half", np.float32(0.5))])
    nodes = [helper.make_node("Loop", ["M", "go", "acc0"], ["acc", "totals"], body=body),
             helper.make_node("Neg", ["acc"], ["neg"])]
    return _model(nodes, [_vi("M", I64, []), _vi("go", B, []), _vi("acc0", F, ["N", 3]), _vi("x", F, ["N", 3]),
                          _vi("limit", F, [])],
                  [_vi("neg", F, None), _vi("totals", F, None)])


def greedy_decoder(vocab: int = 7, hidden: int = 5, eos: int = 0):
    """A greedy decoder: from a start token and a hidden state, each step embeds the token
    (one-hot times the embedding table),
    updates ``h = tanh(h @ Wh + emb)``, picks ``argmax(h @ Wo)`` and stops at the end token or
    after ``max_len`` steps (a graph input); the tokens are the scan output."""
    rng = np.random.default_rng(3)
    body = helper.make_graph([
        helper.make_node("OneHot", ["tok_in", "depth", "onoff"], ["hot"]),          # (1, V)
        helper.make_node("MatMul", ["hot", "E"], ["emb"]),                          # (1, H)
        helper.make_node("MatMul", ["h_in", "Wh"], ["hw"]),
        helper.make_node("Add", ["hw", "emb"], ["pre"]),
        helper.make_node("Tanh", ["pre"], ["h_out"]),
        helper.make_node("MatMul", ["h_out", "Wo"], ["logits"]),                 # (1, V)
        helper.make_node("ArgMax", ["logits"], ["tok_out"], axis=1, keepdims=0),  # (1,)
        helper.make_node("Equal", ["tok_out", "eos"], ["is_end"]),
        helper.make_node("Not", ["is_end"], ["more"]),
        helper.make_node("Squeeze", ["more", "ax0"], ["cond_out"]),
        helper.make_node("Identity", ["tok_out"], ["tok_scan"]),
    ], "step", [_vi("i", I64, []), _vi("cond_in", B, []), _vi("h_in", F, [1, hidden]), _vi("tok_in", I64, [1])],
        [_vi("cond_out", B, []), _vi("h_out", F, [1, hidden]), _vi("tok_out", I64, [1]), _vi("tok_scan", I64, [1])],
        [_init("eos", np.array([eos], np.int64)), _init("ax0", np.array([0], np.int64)),
         _init("depth", np.array(vocab, np.int64)), _init("onoff", np.array([0, 1], np.float32))])
    nodes = [helper.make_node("Loop", ["max_len", "", "h0", "start"], ["h", "last", "tokens"], body=body)]
    inits = [_init("E", rng.standard_normal((vocab, hidden)).astype(np.float32)),
             _init("Wh", rng.standard_normal((hidden, hidden)).astype(np.float32)),
             _init("Wo", rng.standard_normal((hidden, vocab)).astype(np.float32))]
    return _model(nodes, [_vi("max_len", I64, []), _vi("h0", F, [1, hidden]), _vi("start", I64, [1])],
                  [_vi("h", F, None), _vi("last", I64, None), _vi("tokens", I64, None)], inits)


def scan_model(reverse: int = 0):
    """A Scan over a symbolic length T: a running sum of the rows of x (T, 3) as the state,
    twice the state per step as the scan output (opset 17, scan axis 0 in, axis 1 out)."""
    body = helper.make_graph([helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
                              helper.make_node("Mul", ["s_out", "w"], ["y_t"])],
                             "step", [_vi("s_in", F, [3]), _vi("x_t", F, [3])], [_vi("s_out", F, [3]), _vi("y_t", F, [3])])
    nodes = [helper.make_node("Scan", ["s0", "x"], ["s", "ys"], body=body, num_scan_inputs=1,
                              scan_input_directions=[reverse], scan_output_axes=[1])]
    return _model(nodes, [_vi("s0", F, [3]), _vi("x", F, ["T", 3]), _vi("w", F, [3])], [_vi("s", F, None),
                                                                                      _vi("ys", F, None)])
