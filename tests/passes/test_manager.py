"""The pass manager: table, disabling, dumping, verification, fixed points."""

import functools

import numpy as np
import pytest

from cortado.ir import Graph, Op, TensorType
from cortado.ops import apply
from cortado.passes.algebraic import simplify
from cortado.passes.constant_folding import fold_constants
from cortado.passes.dce import dce
from cortado.passes.manager import FixedPoint, PassFailure, PassManager, named, pass_name, step_names


def _graph():
    g = Graph()
    x = g.add_input("x", TensorType((2, 3), "float32"))
    y = apply(g, Op.IDENTITY, [x]).output
    y = apply(g, Op.ADD, [y, g.add_constant(np.zeros(3, np.float32))]).output
    apply(g, Op.TANH, [y])                        # dead
    g.add_output(apply(g, Op.RELU, [y]).output, "y")
    return g


def test_table_rows_time_and_count_every_pass():
    g = _graph()
    table = PassManager([dce, simplify]).run(g)
    assert [r["pass"] for r in table] == ["dce", "simplify"]
    assert table[0]["nodes_before"] == 4 and table[0]["nodes_after"] == 3 and table[0]["changed"]
    assert table[1]["nodes_after"] == 1 and all(r["seconds"] >= 0 for r in table)


def test_disable_skips_by_name_and_dump_sees_the_graph():
    g = _graph()
    dumps = []
    table = PassManager([dce, simplify], disable={"simplify"}, dump_after={"dce"},
                        dump=lambda name, graph: dumps.append((name, len(graph)))).run(g)
    assert [r["pass"] for r in table] == ["dce"]
    assert dumps == [("dce", 3)]


def test_fixed_point_groups_repeat_until_quiet_and_are_bounded():
    g = _graph()
    table = PassManager([FixedPoint("cleanup", (simplify, dce))]).run(g)
    assert [r["round"] for r in table] == [1, 1, 2, 2]
    calls = []

    def always(graph):
        calls.append(1)
        return True

    PassManager([FixedPoint("busy", (always,), max_rounds=3)]).run(g)
    assert len(calls) == 3


def test_verify_names_the_pass_that_broke_the_graph():
    def breaks_types(graph):
        node = graph.nodes[-1]
        node.outputs[0].type = TensorType((7,), "float32")
        return True

    with pytest.raises(PassFailure, match="after pass 'breaks_types'"):
        PassManager([breaks_types], verify=True).run(_graph())
    PassManager([breaks_types], verify=False).run(_graph())    # only checked when asked


def test_passes_must_return_bool_and_errors_name_the_pass():
    with pytest.raises(PassFailure, match="returned None"):
        PassManager([lambda g: None]).run(_graph())

    def crash(graph):
        raise KeyError("boom")

    with pytest.raises(PassFailure, match="pass 'crash' raised KeyError"):
        PassManager([crash]).run(_graph())


def test_names_of_partials_named_passes_and_groups():
    capped = functools.partial(fold_constants, max_bytes=16)
    assert pass_name(capped) == "fold_constants"
    assert pass_name(named("fold_small", capped)) == "fold_small"
    assert step_names([dce, FixedPoint("g", (simplify, capped))]) == ["dce", "g", "simplify", "fold_constants"]
