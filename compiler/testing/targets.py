"""Which ops a pass pattern-matches, read from its code, so ``check_pass`` draws them often.

A pass rewrites what its ``node.op is Op.X`` / ``node.op == "X"`` / ``op in (Op.X, ...)``
tests select. Graphs drawn uniformly from sixty ops contain a given op in a small share of
draws, and a bug in the rewrite of that op escapes whenever it is missing; drawing the
matched ops (and the motifs that build them) in most steps is what gives the property test
its power. ``pass_targets`` finds them in the pass's source, in the same-module helpers it
calls, in the module-level tables it reads (``RULES = {Op.ADD: ...}``) and in the bound
arguments of a ``functools.partial``. It is a heuristic: ``check_pass(targets=[...])`` says
it explicitly, and an empty result simply leaves the draw uniform.
"""

from __future__ import annotations

import functools
import inspect
import re
import textwrap
import types
from typing import Callable, Iterable

from cortado.ir import Op

__all__ = ["pass_targets", "ops_in"]

_OP_ATTR = re.compile(r"\bOp\.([A-Z][A-Z0-9_]*)\b")
_QUOTED = re.compile(r"""["']([A-Z][A-Za-z0-9]*)["']""")
_BY_NAME = {op.name: op for op in Op}
_BY_VALUE = {op.value: op for op in Op}


def ops_in(obj, depth: int = 2) -> set[Op]:
    """Ops named by a value: an Op, an op name, or a container of them (dict keys and values)."""
    if isinstance(obj, Op):
        return {obj}
    if isinstance(obj, str):
        return {_BY_VALUE[obj]} if obj in _BY_VALUE else set()
    if depth <= 0:
        return set()
    if isinstance(obj, dict):
        return set().union(*(ops_in(k, depth - 1) for k in obj), set())
    if isinstance(obj, (set, frozenset, tuple, list)):
        return set().union(*(ops_in(x, depth - 1) for x in obj), set())
    return set()


def _source_ops(fn) -> set[Op]:
    try:
        src = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return set()
    found = {_BY_NAME[m] for m in _OP_ATTR.findall(src) if m in _BY_NAME}
    found |= {_BY_VALUE[m] for m in _QUOTED.findall(src) if m in _BY_VALUE}
    return found


def _names(code: types.CodeType) -> set[str]:
    """Global names a function reads, its comprehensions and nested functions included."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _names(c)
    return names


def _unwrap(fn):
    while True:
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        elif not isinstance(fn, (types.FunctionType, types.MethodType)) and callable(fn) \
                and callable(getattr(fn, "fn", None)):
            fn = fn.fn                      # a counting wrapper around the pass
        else:
            return fn


def pass_targets(pass_fn: Callable, depth: int = 2) -> list[Op]:
    """The ops ``pass_fn`` matches on, as far as its code tells (see the module doc)."""
    found: set[Op] = set()
    seen: set[int] = set()

    def visit(fn, level: int) -> None:
        if isinstance(fn, functools.partial):
            for a in list(fn.args) + list(fn.keywords.values()):
                found.update(ops_in(a))
        fn = _unwrap(fn)
        if isinstance(fn, types.MethodType):
            fn = fn.__func__
        if not isinstance(fn, types.FunctionType) or id(fn) in seen:
            if callable(fn) and not isinstance(fn, type) and hasattr(type(fn), "__call__") \
                    and not isinstance(fn, (types.BuiltinFunctionType, types.FunctionType)):
                call = getattr(type(fn), "__call__", None)
                if isinstance(call, types.FunctionType) and id(call) not in seen:
                    visit(call, level)
            return
        seen.add(id(fn))
        found.update(_source_ops(fn))
        for cell in fn.__closure__ or ():
            try:
                found.update(ops_in(cell.cell_contents))
            except ValueError:          # an empty cell
                pass
        for name in _names(fn.__code__):
            g = fn.__globals__.get(name)
            if isinstance(g, (dict, set, frozenset, tuple, list, Op)):
                found.update(ops_in(g))
            elif level > 0 and isinstance(g, types.FunctionType) and g.__module__ == fn.__module__:
                visit(g, level - 1)

    visit(pass_fn, depth)
    return sorted(found, key=lambda op: op.value)


def normalize_targets(targets: Iterable[Op | str] | None) -> list[Op]:
    """``targets=`` as ``Op`` values (names or members), with a clear error for unknown ones."""
    out = []
    for t in targets or ():
        if isinstance(t, Op):
            out.append(t)
        elif t in _BY_VALUE:
            out.append(_BY_VALUE[t])
        else:
            raise ValueError(f"targets: {t!r} is not an op name (e.g. 'Sub', 'Softmax' or cortado.ir.Op.SUB)")
    return out
