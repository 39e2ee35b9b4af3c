"""The numpy reference evaluator: run a graph node by node with each op's reference.

It is the independent oracle for IR-level tests (passes must not change what it computes),
the engine of constant folding, and the unfused baseline of ``debug-numerics``.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

from ..ir import Graph, SymExpr
from ..ir.dims import Dim
from .registry import run_reference
from cortado.runtime.errors import InputError


def bind_symbols(graph: Graph, arrays: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Symbol values from the actual input shapes; checks static dims and consistency."""
    env: dict[str, int] = {}
    for v in graph.inputs:
        a = arrays[v.name]
        if a.ndim != v.type.rank:
            raise InputError(f"input {v.name!r} expects rank {v.type.rank} {v.type}, got shape {a.shape}")
        for axis, (d, actual) in enumerate(zip(v.type.shape, a.shape)):
            if isinstance(d, int):
                if d != actual:
                    raise InputError(f"input {v.name!r} expects {v.type}, got shape {a.shape} (axis {axis})")
            elif len(d.symbols()) == 1 and str(d) in d.symbols():
                name = str(d)
                if env.setdefault(name, actual) != actual:
                    raise InputError(f"symbolic dim {name} is {env[name]} in one input and {actual} in {v.name!r}")
    return env


def concrete(x, env: Mapping[str, int]):
    """Replace symbolic dims inside an attribute value by their bound ints."""
    if isinstance(x, SymExpr):
        return x.evaluate(env)
    if isinstance(x, tuple):
        return tuple(concrete(e, env) for e in x)
    return x


def concrete_attrs(attrs, env: Mapping[str, int]):
    if attrs is None or not env or not dataclasses.is_dataclass(attrs):
        return attrs
    changes = {}
    for f in dataclasses.fields(attrs):
        v = getattr(attrs, f.name)
        c = concrete(v, env)
        if c is not v and c != v:
            changes[f.name] = c
    return dataclasses.replace(attrs, **changes) if changes else attrs


def concrete_shape(shape: tuple[Dim, ...], env: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(concrete(d, env) for d in shape)


class _Node:
    """A node with concrete attributes, for ``run_reference``."""

    __slots__ = ("op", "attrs", "outputs")

    def __init__(self, node, attrs):
        self.op, self.attrs, self.outputs = node.op, attrs, node.outputs


def evaluate(graph: Graph, inputs: Mapping[str, np.ndarray], *, keep: bool = False) -> dict[str, np.ndarray]:
    """Run ``graph`` on numpy ``inputs`` (by input name); returns outputs by output name.

    With ``keep=True`` every intermediate value is returned as well, by value name.
    """
    missing = [v.name for v in graph.inputs if v.name not in inputs]
    if missing:
        raise InputError(f"missing input(s): {', '.join(missing)}")
    arrays = {v.name: np.asarray(inputs[v.name]) for v in graph.inputs}
    env = bind_symbols(graph, arrays)
    vals: dict[int, np.ndarray] = {}
    for v in graph.inputs:
        vals[id(v)] = arrays[v.name].astype(v.dtype.numpy, copy=False)
    for v in graph.constants.values():
        vals[id(v)] = v.const
    names: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        args = [None if v is None else vals[id(v)] for v in node.inputs]
        outs = run_reference(_Node(node, concrete_attrs(node.attrs, env)), args)
        for v, a in zip(node.outputs, outs):
            vals[id(v)] = a
            for d, n in zip(v.shape, np.shape(a)):    # a data-dependent size is known once computed
                if isinstance(d, SymExpr) and d.symbols() == {str(d)}:
                    env.setdefault(str(d), int(n))
            if keep:
                names[v.name] = a
    result = {name: vals[id(v)] for name, v in zip(graph.output_names, graph.outputs)}
    if keep:
        names.update(result)
        return names
    return result
