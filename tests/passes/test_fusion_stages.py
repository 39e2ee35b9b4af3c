"""Fusion's stages and the memory plan run through the pass manager: timed, disabled by name,
dumped, and reported in the per-pass table like the graph passes."""

from __future__ import annotations

import numpy as np
import pytest

import cortado
from cortado import ops
from cortado.ir import Graph, TensorType
from cortado.passes.fusion import STAGES, partition
from cortado.passes.kernel_plan import STAGES as PLAN_STAGES
from cortado.passes.kernel_plan import plan_kernels
from cortado.pipeline import check_pass_names
from cortado.runtime.errors import CortadoError


def conv_relu_softmax(rng):
    """Conv -> Relu (an epilogue) -> Exp -> Softmax (Exp: a prologue of the softmax)."""
    g = Graph()
    x = g.add_input("x", TensorType((1, 3, 5, 5), "float32"))
    w = g.add_constant(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    y = ops.apply(g, "Conv", [x, w], kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1),
                  group=1).output
    y = ops.apply(g, "Relu", [y]).output
    y = ops.apply(g, "Exp", [y]).output
    g.add_output(ops.apply(g, "Softmax", [y], axis=-1).output, "y")
    return g


def _kinds(groups):
    return [[n.op.value for n in grp.nodes] for grp in groups]


def test_every_stage_is_timed_in_order(rng):
    table: list[dict] = []
    groups = partition(conv_relu_softmax(rng), fuse=True, table=table)
    assert [r["pass"] for r in table] == list(STAGES)
    assert all(r["seconds"] >= 0 for r in table)
    epi = next(r for r in table if r["pass"] == "epilogues")
    assert epi["changed"] and (epi["nodes_before"], epi["nodes_after"]) == (4, 2)     # kernels, not nodes
    assert _kinds(groups) == [["Conv", "Relu", "Exp"], ["Softmax"]]


@pytest.mark.parametrize("disabled, expected", [
    ({"epilogues"}, [["Conv"], ["Relu", "Exp", "Softmax"]]),          # relu + exp become softmax prologues
    ({"epilogues", "prologues"}, [["Conv"], ["Relu", "Exp"], ["Softmax"]]),
    ({"epilogues", "prologues", "chains"}, [["Conv"], ["Relu"], ["Exp"], ["Softmax"]]),
])
def test_disabling_a_stage_skips_exactly_it(rng, disabled, expected):
    assert _kinds(partition(conv_relu_softmax(rng), fuse=True, disable=disabled)) == expected


def test_dump_after_a_stage_shows_the_partition(rng):
    seen = []
    partition(conv_relu_softmax(rng), fuse=True, dump_after={"epilogues"}, dump=lambda n, t: seen.append((n, t)))
    assert len(seen) == 1 and seen[0][0] == "epilogues"
    kinds = [line.split()[0] for line in seen[0][1].splitlines()[2:]]
    assert kinds == ["conv", "reduction"], seen[0][1]


def test_memory_plan_is_a_stage_and_disabling_it_turns_off_reuse(rng):
    g = conv_relu_softmax(rng)
    groups, plan, rows = plan_kernels(g, fuse=True, reuse=True)
    assert [r["pass"] for r in rows] == list(PLAN_STAGES)
    _, plain, rows = plan_kernels(conv_relu_softmax(rng), fuse=True, reuse=True, disable={"memory_plan"})
    assert "memory_plan" not in [r["pass"] for r in rows] and plain is not None


def test_compile_reports_the_stages_and_accepts_their_names(rng):
    m = cortado.compile(conv_relu_softmax(rng), target="interpreter", disable=["epilogues"])
    names = [r["pass"] for r in m.stats["passes"]]
    assert "epilogues" not in names and "prologues" in names and "memory_plan" in names
    check_pass_names(["chains", "memory_plan"])
    with pytest.raises(CortadoError, match="unknown pass"):
        check_pass_names(["epilogue"])
