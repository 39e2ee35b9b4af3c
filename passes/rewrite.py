"""Small helpers that local rewrites share: reading constants, replacing a node's result.

Rewrites follow *pattern, check, rewrite*: a rule matches a node, checks the conditions under
which the rewrite preserves the computed function (returning a short reason when it declines),
and only then edits the graph through the IR's methods.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from cortado.ir import Graph, Node, Value


def const_of(v: Value | None) -> np.ndarray | None:
    """The data of a constant value, or None."""
    return None if v is None else v.const


def is_filled(v: Value | None, x: float) -> bool:
    """True when ``v`` is a non-empty constant whose every element equals ``x``."""
    c = const_of(v)
    return c is not None and c.size > 0 and bool(np.all(c == x))


def replace_result(graph: Graph, node: Node, new: Value) -> None:
    """Route every use (and graph output) of the node's single output to ``new``; drop the
    node and whatever only it read. ``new`` must have the same type: the caller checked it."""
    old = node.output
    if old.type != new.type:
        raise AssertionError(f"rewrite of {node.name} would change type {old.type} -> {new.type}")
    old.replace_all_uses_with(new)
    remove_if_dead(graph, node)


def remove_if_dead(graph: Graph, node: Node | None) -> bool:
    """Remove ``node`` when nothing reads its outputs any more, then the producers that only
    it read (a rewrite cleans up after itself; unrelated dead code is left to DCE)."""
    def dead(n: Node | None) -> bool:
        return n is not None and n.graph is graph and not any(o.uses or o.is_graph_output for o in n.outputs)

    if not dead(node):
        return False
    work = [node]
    while work:
        n = work.pop()
        if not dead(n):
            continue
        inputs = [v for v in n.inputs if v is not None]
        graph.remove(n)
        work.extend(v.producer for v in inputs if v.producer is not None)
    return True


def inverse_perm(perm) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def compose_perms(first, second) -> tuple[int, ...]:
    """The single perm equal to Transpose(Transpose(x, first), second)."""
    return tuple(first[p] for p in second)


def drop_constant(graph: Graph, v: Value) -> bool:
    """Forget a constant nothing reads (and that is not a graph output)."""
    if v.uses or v.is_graph_output or graph.constants.get(v.name) is not v:
        return False
    del graph.constants[v.name]
    return True


def nbytes_estimate(v: Value, sizes: Mapping[str, int] | None = None) -> int:
    """Bytes of a value for comparing costs, each symbol at its size in ``sizes`` (from
    ``representative_sizes`` of the graph's inputs; a symbol not there counts as 1)."""
    n = v.type.nbytes
    if isinstance(n, int):
        return n
    sizes = sizes or {}
    return int(n.evaluate({s: sizes.get(s, 1) for s in n.symbols()}))
