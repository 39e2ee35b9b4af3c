"""A corpus of deliberately broken passes: the bugs ``check_pass`` exists to catch.

Each mutant is a plausible mistake a pass author makes — an operand swap of a
non-commutative op, an off-by-one axis, a dropped or duplicated node, a fold with the wrong
dtype, a broadcast that loses a dim, an ignored attribute, a fold that is only right for
finite inputs, a shared constant changed for every user, a rewrite that is only right for
static dims or positive values, outputs renamed or reordered. Each is written the way a
real pass is (``node.op is Op.X`` pattern, check, rewrite), so ``check_pass`` reads its
targets from the source as it would from a user's pass.

``tests/testing/test_mutants.py`` runs every mutant with a few seeds;
``benchmarks/check_pass_power.py`` measures each one's detection rate over 100 seeds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cortado.ir import DType, Graph, Node, Op
from cortado.ops import apply
from cortado.runtime.errors import CortadoError


@dataclass(frozen=True)
class Mutant:
    name: str
    breaks: str          # what the bug gets wrong, for the docs table
    fn: Callable[[Graph], bool]


MUTANTS: list[Mutant] = []


def mutant(breaks: str):
    def deco(fn):
        MUTANTS.append(Mutant(fn.__name__, breaks, fn))
        return fn
    return deco


def _with_attrs(node: Node, **changes) -> None:
    node.attrs = dataclasses.replace(node.attrs, **changes)


def _swap_two(node: Node) -> bool:
    a, b = node.inputs[:2]
    if a is b:
        return False
    node.set_inputs([b, a, *node.inputs[2:]])
    return True


# -- operand swaps of non-commutative ops -----------------------------------------------------
@mutant("a - b rewritten as b - a")
def sub_swapped(graph: Graph) -> bool:
    changed = False
    for node in graph.nodes:
        if node.op is Op.SUB:
            changed |= _swap_two(node)
    return changed


@mutant("a / b rewritten as b / a")
def div_swapped(graph: Graph) -> bool:
    changed = False
    for node in graph.nodes:
        if node.op is Op.DIV:
            changed |= _swap_two(node)
    return changed


@mutant("x ** y rewritten as y ** x")
def pow_swapped(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.POW:
            x, y = node.inputs
            new = apply(graph, Op.POW, [y, x], before=node).output
            if new.type == node.output.type:
                node.output.replace_all_uses_with(new)
                graph.remove(node)
                changed = True
            else:
                graph.remove(new.producer)
    return changed


@mutant("A @ B rewritten as B @ A (the shapes allow it when A and B are square)")
def matmul_swapped(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.MATMUL and node.inputs[0].type.rank >= 2 and node.inputs[1].type.rank >= 2:
            a, b = node.inputs
            try:
                swapped = apply(graph, Op.MATMUL, [b, a], before=node)
            except CortadoError:
                continue
            node.output.replace_all_uses_with(swapped.output)
            graph.remove(node)
            changed = True
    return changed


@mutant("Concat inputs joined in reverse order")
def concat_reversed(graph: Graph) -> bool:
    changed = False
    for node in graph.nodes:
        if node.op is Op.CONCAT and len(node.inputs) >= 2 and node.inputs[0] is not node.inputs[-1]:
            node.set_inputs(list(reversed(node.inputs)))
            changed = True
    return changed


# -- off-by-one axes ---------------------------------------------------------------------------
@mutant("Softmax normalized over the next axis")
def softmax_axis_off_by_one(graph: Graph) -> bool:
    changed = False
    for node in graph.nodes:
        rank = node.inputs[0].type.rank if node.inputs and node.inputs[0] is not None else 0
        if node.op is Op.SOFTMAX and rank >= 2:
            _with_attrs(node, axis=(node.attrs.axis + 1) % rank)
            changed = True
    return changed


@mutant("Concat joined along the next axis (when the shapes allow it)")
def concat_axis_off_by_one(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        rank = node.inputs[0].type.rank if node.op is Op.CONCAT else 0
        if rank >= 2 and len(node.inputs) >= 2:
            try:
                new = apply(graph, Op.CONCAT, list(node.inputs), axis=(node.attrs.axis + 1) % rank, before=node)
            except Exception:
                continue
            node.output.replace_all_uses_with(new.output)
            graph.remove(node)
            changed = True
    return changed


@mutant("ReduceSum over axes shifted by one")
def reduce_sum_axes_off_by_one(graph: Graph) -> bool:
    changed = False
    for node in graph.nodes:
        rank = node.inputs[0].type.rank if node.op is Op.REDUCE_SUM else 0
        if rank >= 2:
            axes = tuple(sorted({(a + 1) % rank for a in node.attrs.axes}))
            if axes != tuple(node.attrs.axes):
                _with_attrs(node, axes=axes)
                changed = True
    return changed


@mutant("Gather along the next axis (when the indices fit it)")
def gather_axis_off_by_one(graph: Graph) -> bool:
    changed = False
    for node in graph.nodes:
        if node.op is Op.GATHER and node.inputs[0].type.rank >= 2:
            data, idx = node.inputs
            axis = (node.attrs.axis + 1) % data.type.rank
            n = data.shape[axis]
            if idx.is_constant and isinstance(n, int) and idx.const.size and np.all(np.abs(idx.const) < n) \
                    and np.all(idx.const >= -n) and n == data.shape[node.attrs.axis]:
                _with_attrs(node, axis=axis)
                changed = True
    return changed


@mutant("Transpose perm reversed instead of applied")
def transpose_perm_reversed(graph: Graph) -> bool:
    changed = False
    for node in graph.nodes:
        if node.op is Op.TRANSPOSE and tuple(node.attrs.perm) != tuple(reversed(node.attrs.perm)):
            _with_attrs(node, perm=tuple(reversed(node.attrs.perm)))
            changed = True
    return changed


# -- dropped or duplicated nodes ---------------------------------------------------------------
@mutant("Relu dropped (treated as the identity)")
def relu_dropped(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.RELU:
            node.output.replace_all_uses_with(node.inputs[0])
            graph.remove(node)
            changed = True
    return changed


@mutant("a constant scale applied twice (folded, and the Mul kept)")
def scale_applied_twice(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.MUL and node.inputs[1].is_constant and not node.inputs[0].is_constant:
            users = list(node.output.uses)
            twice = apply(graph, Op.MUL, [node.output, node.inputs[1]], before=node)
            graph.remove(twice)
            if twice.output.type != node.output.type:
                continue
            at = graph.nodes[graph.position(node) + 1] if graph.position(node) + 1 < len(graph) else None
            twice = apply(graph, Op.MUL, [node.output, node.inputs[1]], before=at)
            for user, i in users:
                user.replace_input(i, twice.output)
            for i, v in enumerate(graph.outputs):
                if v is node.output:
                    graph.set_output(i, twice.output)
            changed = True
    return changed


@mutant("a graph output's node removed because nothing else reads it")
def dce_drops_outputs(graph: Graph) -> bool:
    changed = False
    for node in reversed(graph.nodes):
        if node.op is Op.NEG or node.op is Op.TANH:
            if not any(o.uses for o in node.outputs):
                x = node.inputs[0]
                for o in node.outputs:
                    o.replace_all_uses_with(x)
                graph.remove(node)
                changed = True
    return changed


# -- folds ---------------------------------------------------------------------------------------
@mutant("constant folding stores float64 instead of the node's float32")
def fold_to_float64(graph: Graph) -> bool:
    changed = False
    folds = {Op.NEG: np.negative, Op.ABS: np.abs, Op.ADD: np.add, Op.MUL: np.multiply, Op.SUB: np.subtract}
    for node in list(graph.nodes):
        if node.op in folds and all(v is not None and v.is_constant for v in node.inputs):
            result = folds[node.op](*[v.const.astype(np.float64) for v in node.inputs])
            node.output.replace_all_uses_with(graph.add_constant(result, "folded"))
            graph.remove(node)
            changed = True
    return changed


@mutant("x * 0 folded to 0 (wrong for NaN and Inf)")
def times_zero_folded(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.MUL and node.output.type.is_static:
            if any(c.is_constant and c.const.size and np.all(c.const == 0) for c in node.inputs):
                zeros = graph.add_constant(np.zeros(node.output.shape, node.output.dtype.numpy), "zeros")
                node.output.replace_all_uses_with(zeros)
                graph.remove(node)
                changed = True
    return changed


@mutant("x + 0 -> x even when the zeros broadcast x to a bigger shape")
def broadcast_lost(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.ADD:
            for x, c in (node.inputs, reversed(node.inputs)):
                if c.is_constant and c.const.size and np.all(c.const == 0) and x.dtype is node.output.dtype:
                    node.output.replace_all_uses_with(x)
                    graph.remove(node)
                    changed = True
                    break
    return changed


@mutant("x - c -> x + (-c) by negating the constant itself (its other users see -c)")
def shared_constant_negated(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.SUB and node.inputs[1].is_constant:
            x, c = node.inputs
            c.const = -c.const                     # every reader of c changes, not just this one
            add = apply(graph, Op.ADD, [x, c], before=node)
            node.output.replace_all_uses_with(add.output)
            graph.remove(node)
            changed = True
    return changed


@mutant("Shape folded to a constant with symbolic dims taken as 1")
def shape_folded_with_symbols_as_one(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.SHAPE:
            dims = [d if isinstance(d, int) else 1 for d in node.inputs[0].shape]
            value = np.array(dims[node.attrs.start:node.attrs.end], np.int64)
            node.output.replace_all_uses_with(graph.add_constant(value, "shape"))
            graph.remove(node)
            changed = True
    return changed


@mutant("a reduction over axes of size 1 dropped, symbolic dims taken as 1")
def unit_reduction_dropped(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op in (Op.REDUCE_SUM, Op.REDUCE_MEAN, Op.REDUCE_MAX) and node.attrs.keepdims == 1:
            x = node.inputs[0]
            if all(not isinstance(x.shape[a], int) or x.shape[a] == 1 for a in node.attrs.axes):
                node.output.replace_all_uses_with(x)
                graph.remove(node)
                changed = True
    return changed


# -- ignored attributes ------------------------------------------------------------------------
@mutant("ReduceSum rebuilt without its keepdims")
def keepdims_ignored(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.REDUCE_SUM and node.attrs.keepdims == 0:
            new = apply(graph, Op.REDUCE_SUM, [node.inputs[0]], axes=node.attrs.axes, before=node)
            node.output.replace_all_uses_with(new.output)
            graph.remove(node)
            changed = True
    return changed


@mutant("BatchNormalization decomposed without its epsilon")
def batchnorm_epsilon_ignored(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.BATCH_NORMALIZATION and all(v.is_constant for v in node.inputs[1:]):
            x, gamma, beta, mean, var = node.inputs
            scale = gamma.const / np.sqrt(var.const)                 # forgot + epsilon
            shift = beta.const - mean.const * scale
            per_channel = (-1,) + (1,) * (x.type.rank - 2)
            s = graph.add_constant(scale.reshape(per_channel).astype(np.float32), "scale")
            t = graph.add_constant(shift.reshape(per_channel).astype(np.float32), "shift")
            y = apply(graph, Op.MUL, [x, s], before=node).output
            y = apply(graph, Op.ADD, [y, t], before=node).output
            node.output.replace_all_uses_with(y)
            graph.remove(node)
            changed = True
    return changed


@mutant("LeakyRelu rebuilt with the default alpha (0.01)")
def leaky_relu_alpha_ignored(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.LEAKY_RELU and node.attrs.alpha != 0.01:
            new = apply(graph, Op.LEAKY_RELU, [node.inputs[0]], before=node)
            node.output.replace_all_uses_with(new.output)
            graph.remove(node)
            changed = True
    return changed


@mutant("Gemm lowered to MatMul + Add ignoring transB")
def gemm_trans_b_ignored(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        if node.op is Op.GEMM:
            a, b, c = (list(node.inputs) + [None])[:3]
            if node.attrs.transA:
                a = apply(graph, Op.TRANSPOSE, [a], perm=(1, 0), before=node).output
            y = apply(graph, Op.MATMUL, [a, b], before=node).output       # transB forgotten
            if node.attrs.alpha != 1.0:
                alpha = graph.add_constant(np.array(node.attrs.alpha, np.float32), "alpha")
                y = apply(graph, Op.MUL, [y, alpha], before=node).output
            if c is not None:
                beta = graph.add_constant(np.array(node.attrs.beta, np.float32), "beta")
                y = apply(graph, Op.ADD, [y, apply(graph, Op.MUL, [c, beta], before=node).output],
                          before=node).output
            node.output.replace_all_uses_with(y)
            graph.remove(node)
            changed = True
    return changed


# -- rewrites only right for positive values ---------------------------------------------------
@mutant("Relu(x * c) -> Relu(x) * c (right only for c >= 0)")
def relu_scale_commuted(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        m = node.inputs[0].producer if node.op is Op.RELU else None
        if m is not None and m.op is Op.MUL and m.inputs[1].is_constant and len(node.inputs[0].uses) == 1:
            x, c = m.inputs
            r = apply(graph, Op.RELU, [x], before=node).output
            y = apply(graph, Op.MUL, [r, c], before=node).output
            if y.type != node.output.type:
                continue
            node.output.replace_all_uses_with(y)
            graph.remove(node)
            graph.remove(m)
            changed = True
    graph.remove_unused()
    return changed


@mutant("Abs(act(x)) -> act(x) for activations assumed non-negative (Elu, LeakyRelu, Gelu are not)")
def abs_of_activation_dropped(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        src = node.inputs[0].producer if node.op is Op.ABS else None
        if src is not None and src.op in (Op.RELU, Op.SIGMOID, Op.SOFTPLUS, Op.ELU, Op.LEAKY_RELU, Op.GELU):
            node.output.replace_all_uses_with(node.inputs[0])
            graph.remove(node)
            changed = True
    return changed


@mutant("Sqrt(x * x) -> x (right only for x >= 0)")
def sqrt_of_square_folded(graph: Graph) -> bool:
    changed = False
    for node in list(graph.nodes):
        src = node.inputs[0].producer if node.op is Op.SQRT else None
        if src is not None and src.op is Op.MUL and src.inputs[0] is src.inputs[1]:
            x = src.inputs[0]
            if x.type == node.output.type:
                node.output.replace_all_uses_with(x)
                graph.remove(node)
                changed = True
    graph.remove_unused()
    return changed


# -- the graph's interface ---------------------------------------------------------------------
@mutant("outputs listed in another order after a rebuild")
def outputs_reordered(graph: Graph) -> bool:
    if len(graph.outputs) < 2 or graph.outputs[0] is graph.outputs[1]:
        return False
    first, second = graph.outputs[:2]
    graph.set_output(0, second)
    graph.set_output(1, first)
    return True


@mutant("an output renamed after the value that now produces it")
def output_renamed(graph: Graph) -> bool:
    changed = False
    for i, v in enumerate(graph.outputs):
        if v.producer is not None and v.producer.op is Op.IDENTITY:
            x = v.producer.inputs[0]
            graph.set_output(i, x)
            graph.output_names[i] = x.name
            changed = True
    graph.remove_unused()
    return changed


@mutant("CSE that merges nodes with the same op and inputs but different attributes")
def cse_ignores_attributes(graph: Graph) -> bool:
    seen: dict = {}
    changed = False
    for node in list(graph.nodes):
        if len(node.outputs) != 1:
            continue
        key = (node.op, tuple(id(v) for v in node.inputs))
        other = seen.setdefault(key, node)
        if other is not node and other.output.type == node.output.type:
            node.output.replace_all_uses_with(other.output)
            graph.remove(node)
            changed = True
    return changed


BY_NAME = {m.name: m for m in MUTANTS}
