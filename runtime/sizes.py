"""Evaluate the size and grid expressions of a launch plan (``"cdiv(N*150528, BLOCK)"``).

Plans are data, possibly from a file someone sent you, so expressions are parsed with ``ast``
and only integer arithmetic on names is allowed — never ``eval`` of arbitrary text.
"""

from __future__ import annotations

import ast
import functools
import operator
from typing import Mapping

from .errors import ArtifactError
from .locks import parse

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_FUNCS = {"cdiv": lambda a, b: -(-a // b), "min": min, "max": max}


@functools.lru_cache(maxsize=4096)
def _compile(text: str):
    try:
        tree = parse(text, mode="eval")
    except SyntaxError:
        raise ArtifactError(f"bad size expression {text!r} in the launch plan") from None

    def build(node):
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            v = node.value
            return lambda env: v
        if isinstance(node, ast.Name):
            name = node.id
            return lambda env: env[name]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            f, a, b = _BINOPS[type(node.op)], build(node.left), build(node.right)
            return lambda env: f(a(env), b(env))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            a = build(node.operand)
            return lambda env: -a(env)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS
                and not node.keywords):
            f, args = _FUNCS[node.func.id], [build(x) for x in node.args]
            return lambda env: f(*(a(env) for a in args))
        raise ArtifactError(f"size expression {text!r} uses {type(node).__name__}, which plans may not contain")

    return build(tree)


def evaluate(text, env: Mapping[str, int]) -> int:
    """The int value of a plan size: an int as is, a string as an expression over ``env``."""
    if isinstance(text, int):
        return text
    try:
        return int(_compile(str(text))(env))
    except KeyError as e:
        raise ArtifactError(f"size expression {text!r} names {e.args[0]!r}, which is not bound") from None


@functools.lru_cache(maxsize=4096)
def _names(text: str) -> frozenset:
    _compile(text)                  # refuses what plans may not contain, before it is walked
    tree = parse(text, mode="eval")
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))


def names(text) -> frozenset:
    """The names a plan size uses (symbols and constexprs; not the functions it calls)."""
    if isinstance(text, int):
        return frozenset()
    return frozenset(n for n in _names(str(text)) if n not in _FUNCS)
