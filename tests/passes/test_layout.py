"""Layout assignment by minimum cut: semantics, its guarantees, and the regions it rewrites."""

import numpy as np

from cortado.ir import Graph, Op, TensorType
from cortado.ops import apply
from cortado.testing import check_pass, check_pass_on, strategies
from cortado.passes.layout import assign_layout, to_first, to_last

CONV = dict(kernel_shape=(1, 1), strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1)


def _count(g, op=Op.TRANSPOSE):
    return sum(1 for n in g.nodes if n.op is op)


def _no_transpose_of_transpose(g):
    for n in g.nodes:
        if n.op is Op.TRANSPOSE:
            p = n.inputs[0].producer
            assert p is None or p.op is not Op.TRANSPOSE, f"{n.name} transposes a transpose"


def test_assign_layout_preserves_semantics_and_guarantees(counted):
    def checked(g):
        before = _count(g)
        changed = assign_layout(g)
        assert _count(g) <= before, "more transposes than the input graph had"
        _no_transpose_of_transpose(g)
        return changed

    p = counted(checked)
    check_pass(p, graphs=strategies.graphs(motifs=["nhwc_island", "transpose_pair", "duplicate"]),
               idempotent=True)
    p.assert_exercised(0.2)


def test_assign_layout_on_any_graph():
    check_pass(assign_layout, symbolic_batch=True)


def _nhwc_exported_net():
    """What NHWC exporters emit: every conv wrapped in transposes, elementwise work in NHWC."""
    rng = np.random.default_rng(0)
    g = Graph()
    x = g.add_input("x", TensorType((1, 5, 5, 3), "float32"))      # NHWC input
    h = x
    for cin, cout in ((3, 4), (4, 4)):
        nchw = apply(g, Op.TRANSPOSE, [h], perm=to_first(4)).output
        w = g.add_constant(rng.normal(size=(cout, cin, 1, 1)).astype(np.float32))
        y = apply(g, Op.CONV, [nchw, w], **CONV).output
        h = apply(g, Op.TRANSPOSE, [y], perm=to_last(4)).output
        h = apply(g, Op.ADD, [h, g.add_constant(rng.normal(size=(cout,)).astype(np.float32))]).output  # NHWC bias
        h = apply(g, Op.RELU, [h]).output
    g.add_output(h, "y")                                             # NHWC output
    return g


def test_nhwc_islands_between_convs_move_to_nchw():
    g = _nhwc_exported_net()
    assert _count(g) == 4
    out = check_pass_on(assign_layout, g, idempotent=True)
    # the input and output stay NHWC (one transpose each); the island between the convs runs
    # in NCHW with its bias permuted at compile time (the tail costs one transpose either way)
    assert _count(out) == 2
    convs = [n for n in out.nodes if n.op is Op.CONV]
    between = out.nodes[out.position(convs[0]) + 1:out.position(convs[1])]
    assert [n.op for n in between] == [Op.ADD, Op.RELU]
    assert between[0].inputs[1].shape == (1, 4, 1, 1)


def test_fan_out_region_is_rewritten_as_a_whole():
    """A transpose read by two ops: sinking cannot move it, the cut removes both sides."""
    g = Graph()
    x = g.add_input("x", TensorType((1, 2, 3, 3), "float32"))
    w = g.add_constant(np.ones((2, 2, 1, 1), np.float32))
    c = apply(g, Op.CONV, [x, w], **CONV).output
    t = apply(g, Op.TRANSPOSE, [c], perm=to_last(4)).output
    a = apply(g, Op.TRANSPOSE, [apply(g, Op.RELU, [t]).output], perm=to_first(4)).output
    b = apply(g, Op.TRANSPOSE, [apply(g, Op.SIGMOID, [t]).output], perm=to_first(4)).output
    g.add_output(apply(g, Op.CONV, [apply(g, Op.ADD, [a, b]).output, w], **CONV).output, "y")
    out = check_pass_on(assign_layout, g, idempotent=True)
    assert _count(out) == 0


def test_graph_without_region_transposes_is_untouched():
    g = Graph()
    x = g.add_input("x", TensorType((1, 2, 3, 3), "float32"))
    g.add_output(apply(g, Op.TRANSPOSE, [apply(g, Op.RELU, [x]).output], perm=(0, 1, 3, 2)).output, "y")
    assert not assign_layout(g)


def test_contradictory_frames_are_left_alone():
    """x + Transpose(x) on a square tensor: no storage order makes both operands free."""
    g = Graph()
    x = g.add_input("x", TensorType((1, 3, 3, 3), "float32"))
    t = apply(g, Op.TRANSPOSE, [x], perm=to_last(4)).output
    s = apply(g, Op.ADD, [x, t]).output
    g.add_output(s, "y")
    out = check_pass_on(assign_layout, g)
    assert _count(out) == 1
