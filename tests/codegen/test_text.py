"""Dead-line removal in generated kernel bodies (``codegen.text.drop_unused_assignments``)."""

from __future__ import annotations

import ast

from cortado.codegen.text import drop_unused_assignments

BODY = """    x0 = tl.load(a_ptr)
    x1 = tl.load(a_ptr + 1)
    x2 = tl.exp(x1)
    x3 = x0 + 1
    old = tl.atomic_add(out_ptr, x3)
    for k0 in range(0, K, BK):
        t = tl.load(a_ptr + k0)
    acc = x3 * 2
    tl.store(out_ptr, acc)
"""


def test_unread_chains_go_and_everything_read_or_effectful_stays():
    out = drop_unused_assignments(BODY, context="def k(a_ptr, out_ptr, K, BK):")
    assert "x1" not in out and "x2" not in out              # x2 unread, then x1 unread
    assert "x0 = tl.load(a_ptr)" in out and "acc = x3 * 2" in out
    assert "old = tl.atomic_add" in out                     # an effect, though its result is unread
    assert "t = tl.load(a_ptr + k0)" in out                 # the loop's only statement
    ast.parse("def k(a_ptr, out_ptr, K, BK):\n" + out)     # still valid Python


def test_names_the_context_uses_are_kept():
    body = "    mask = offs < n\n    y = 1\n"
    assert "mask = offs < n" in drop_unused_assignments(body, context="# uses mask")
    assert "mask" not in drop_unused_assignments(body, context="")
