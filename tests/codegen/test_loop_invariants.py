"""Index arithmetic a loop does not change is computed once, before the loop.

Triton's interpreter pays a fixed Python cost for every tile operation, and GPUs pay for the
integer divisions: a window kernel that re-derived its pixel's row and column at every tap
spent most of its time there. The writer places each index expression and each guard at the
shallowest loop depth whose variables it reads; these tests check where lines land and that
kernels compute the same with the motion as the reference does.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cortado
from cortado import ops
from cortado.codegen import index as ix
from cortado.codegen.writer import KernelWriter
from cortado.ir import Graph, TensorType
from cortado.testing.reference import assert_close


def _body_lines(w: KernelWriter) -> list[str]:
    return w.body.getvalue().splitlines()


def _depth(line: str) -> int:
    return (len(line) - len(line.lstrip())) // 4 - 1


def test_an_expression_of_outer_variables_moves_before_the_loop():
    w = KernelWriter([], tile="[BLOCK]")
    outer = ix.mod(ix.floordiv(ix.var("offs"), 7), 5)
    with w.loop(3) as k:
        name = w.idx(ix.add(ix.mul(outer, 2), ix.var(k)))
    lines = _body_lines(w)
    header = next(i for i, ln in enumerate(lines) if ln.strip().startswith("for "))
    # the div/mod of offs (and the * 2) before the header, only the + k inside
    before, inside = lines[:header], lines[header + 1:]
    assert any("//" in ln and "%" in ln for ln in before), lines
    assert not any("//" in ln or "%" in ln for ln in inside), lines
    assert any(ln.strip().startswith(f"{name} = ") for ln in inside), lines


def test_a_guard_splits_into_the_part_each_loop_changes():
    w = KernelWriter([], tile="[BLOCK]")
    with w.loop(3) as k0:
        c0 = w.bound_check(ix.add(ix.var("offs"), ix.var(k0)), 9)
        with w.loop(3) as k1:
            c1 = w.bound_check(ix.add(ix.var("offs"), ix.var(k1)), 9)
            g = w.guard("mask", c0, c1)
    lines = _body_lines(w)
    inner = [ln for ln in lines if _depth(ln) == 2]
    middle = [ln for ln in lines if _depth(ln) == 1]
    assert any(ln.strip().startswith(f"{g} = ") for ln in inner), lines
    # the k0 part (with the outer mask) is and-ed once per k0, not once per k1
    assert any(re.match(r"\s*g\d+ = .*mask", ln) for ln in middle), lines


def test_nothing_moves_out_of_a_loop_whose_variable_it_reads():
    w = KernelWriter([], tile="[BLOCK]")
    with w.loop(4) as k:
        w.line(f"rc = {k} + tl.arange(0, BLOCK)")
        name = w.idx(ix.mod(ix.var("rc"), 3))
    lines = _body_lines(w)
    assert _depth(next(ln for ln in lines if ln.strip().startswith(f"{name} ="))) == 1, lines


def test_pool_kernels_keep_div_mod_out_of_the_tap_loops():
    g = Graph()
    x = g.add_input("x", TensorType((1, 3, 9, 9), "float32"))
    y = ops.apply(g, "MaxPool", [x], kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1),
                  dilations=(1, 1)).output
    g.add_output(y, "y")
    src = cortado.compile(g, target="interpreter").source
    body = src[src.index("def max_pool"):]
    loop_at = body.index("for k0")
    inside = body[loop_at:body.index("tl.store")]
    assert "//" not in inside and "%" not in inside, body


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(["MaxPool", "AveragePool"]), k=st.integers(1, 3), s=st.integers(1, 2),
       p=st.integers(0, 1), hw=st.tuples(st.integers(3, 7), st.integers(3, 7)), seed=st.integers(0, 99))
def test_window_kernels_compute_what_the_reference_computes(kind, k, s, p, hw, seed):
    p = min(p, k - 1)
    g = Graph()
    x = g.add_input("x", TensorType((1, 2) + hw, "float32"))
    y = ops.apply(g, kind, [x], kernel_shape=(k, k), strides=(s, s), pads=(p, p, p, p),
                  dilations=(1, 1)).output
    g.add_output(ops.apply(g, "Relu", [y]).output, "y")
    feeds = {"x": np.random.default_rng(seed).standard_normal((1, 2) + hw).astype(np.float32)}
    assert_close(cortado.compile(g, target="interpreter").run(feeds)["y"], ops.evaluate(g, feeds)["y"])


def test_redefining_a_name_that_moved_code_reads_inside_that_loop_is_refused():
    """``rc`` read by code moved out of the loop, then reassigned in the loop's body: the moved
    code would see only the first value. The writer refuses instead of miscompiling."""
    w = KernelWriter([], tile="[BLOCK]")
    w.line("rc = tl.arange(0, BLOCK)")
    with w.loop(4) as k:
        w.idx(ix.add(ix.mod(ix.var("rc"), 3), ix.var(k)))
        with pytest.raises(AssertionError, match="redefines 'rc' inside a loop"):
            w.line(f"rc = rc + {k}")
    w2 = KernelWriter([], tile="[BLOCK]")            # a later, separate loop may redefine it
    w2.line("rc = tl.arange(0, BLOCK)")
    with w2.loop(4) as k:
        w2.idx(ix.add(ix.mod(ix.var("rc"), 3), ix.var(k)))
    with w2.loop(4):
        w2.line("rc = rc + 1")
