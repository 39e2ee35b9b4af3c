"""Hypothesis strategies for random *valid* IR graphs and inputs for them.

    from hypothesis import given
    from cortado.testing import strategies

    @given(strategies.graphs_with_inputs())
    def test_my_pass(case):
        graph, feeds = case
        ...

``graphs()`` builds a graph from the op registry: graph inputs of small shapes (image-like
NCHW tensors and plain tensors of rank 0-4), then a drawn number of steps, each adding one op
from ``supported_ops()`` (with operands from the values built so far, constants that
broadcast, valid conv/pool windows) or a *motif* that sets up what passes rewrite: duplicated
subexpressions, neutral constants (``x+0``, ``x*1``, some of which broadcast the result up),
transpose pairs, NHWC islands, reshape chains, conv/gemm followed by batch norm or a
per-channel affine, no-op casts and identities. Values nobody reads are dead branches;
outputs are the last value plus a few others, sometimes a graph input or a constant.

Every choice is a hypothesis draw, so a failing graph shrinks to a small one. Graphs are
deterministic for a given draw sequence; build them fresh per test (passes mutate them).
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

import numpy as np
from hypothesis import strategies as st

from cortado.ir import DType, Graph, Op, Sym

from . import motifs as _motifs, opgen_discrete as _discrete  # noqa: F401  (registration)
from . import opgen, opgen_tensor
from .builder import GraphBuilder
from .opgen import GENERATORS, MOTIFS, generator, registered

# Drawn by default: a rounding difference upstream moves their results by a rounding error.
CONTINUOUS = opgen.CONTINUOUS + opgen_tensor.CONTINUOUS_TENSOR_OPS
# Drawn on request: a rounding difference can flip them by a whole unit (see opgen's doc).
DISCRETE = opgen.DISCRETE + opgen_tensor.DISCRETE_TENSOR_OPS

__all__ = ["graphs", "inputs_for", "graphs_with_inputs", "supported_ops", "missing_generators", "CONTINUOUS",
           "DISCRETE", "GENERATORS", "MOTIFS", "GraphBuilder", "generator"]


def supported_ops(ops: Iterable[Op | str] | None = None, extra: Mapping[Op, Callable] | None = None, *,
                  registered_only: bool = False) -> list[Op]:
    """Ops ``graphs()`` draws from, in shrink order: by default the ``CONTINUOUS`` ones that
    are registered. Explicitly named ops must be registered (or, with ``registered_only``,
    are skipped when not) and have a generator (in ``GENERATORS`` or ``extra``);
    ``missing_generators()`` lists registered ops without one."""
    if ops is None:
        return [op for op in CONTINUOUS if registered(op)]
    out = []
    for op in (Op(o) for o in ops):
        if registered_only and not registered(op):
            continue
        if op not in GENERATORS and op not in (extra or {}):
            raise ValueError(f"no random-graph generator for {op.value}; pass generators={{'{op.value}': fn}} "
                             f"or use one of: {', '.join(o.value for o in GENERATORS)}")
        if not registered(op):
            raise ValueError(f"{op.value} is not a registered op (cortado.ops)")
        out.append(op)
    return out


def missing_generators() -> list[Op]:
    """Registered ops that ``graphs()`` cannot draw (no generator yet)."""
    from cortado.ops import all_ops

    return [d.op for d in all_ops() if d.op not in GENERATORS]


def _bind(fn: Callable, op: Op) -> Callable[[GraphBuilder], object]:
    return lambda b: fn(b, op)


def _input_shape(b: GraphBuilder, symbolic_batch: bool) -> tuple:
    kind = b.integer(0, 2)
    if kind == 0:   # NCHW image
        n = Sym("N") if symbolic_batch and b.flag() else b.integer(1, 2)
        return (n, b.integer(1, 4), b.integer(1, b.max_spatial), b.integer(1, b.max_spatial))
    rank = b.integer(0, 4) if kind == 1 else 3
    return tuple(b.integer(1, b.max_dim) for _ in range(rank))


@st.composite
def graphs(draw, *, ops: Iterable[Op | str] | None = None, motifs: Iterable[str] | bool = True,
           min_nodes: int = 2, max_nodes: int = 12, max_inputs: int = 2, symbolic_batch: bool = False,
           max_dim: int = 4, max_spatial: int = 6, generators: Mapping[Op, Callable] | None = None) -> Graph:
    """A random valid graph (float32 inputs). ``ops`` limits the ops drawn (default
    ``supported_ops()`` plus the ops of ``generators``); ``motifs`` is True, False, or names
    from ``MOTIFS``; ``generators`` adds or replaces per-op generators for this strategy only
    (``fn(builder, op) -> Value | None``)."""
    b = GraphBuilder(draw, max_dim=max_dim, max_spatial=max_spatial)
    extra = {Op(k): v for k, v in (generators or {}).items()}
    if ops is not None:
        op_list = supported_ops(ops, extra)
    else:
        op_list = supported_ops() + [o for o in extra if o not in GENERATORS]
    table = {**GENERATORS, **{o: _bind(fn, o) for o, fn in extra.items()}}
    names = list(MOTIFS) if motifs is True else list(motifs or ())
    unknown = [m for m in names if m not in MOTIFS]
    if unknown:
        raise ValueError(f"unknown motif(s) {unknown}; known: {', '.join(MOTIFS)}")
    for _ in range(b.integer(1, max_inputs)):
        b.add_input(_input_shape(b, symbolic_batch))
    first_node = 0
    steps = b.integer(min_nodes, max_nodes)
    for _ in range(steps * 3):   # a step that finds no operand retries, within limits
        if len(b.graph) - first_node >= steps:
            break
        if names and b.integer(0, 4) >= 3:
            MOTIFS[b.choice(names)](b)
        elif op_list:
            table[b.choice(op_list)](b)
    if len(b.graph) == 0:
        b.add(Op.IDENTITY, [b.graph.inputs[0]])
    produced = [v for n in b.graph.nodes for v in n.outputs]
    outputs = [produced[-1]]
    for _ in range(b.integer(0, 2)):
        anything = b.integer(0, 5) == 5    # rarely a graph input or a constant as output
        extra = b.pick(lambda v, anything=anything: (v.producer is None) == anything)
        if extra is not None:
            outputs.append(extra)
    for i, v in enumerate(outputs):
        b.graph.add_output(v, f"out{i}")
    if b.integer(0, 2) == 2:    # dead branches stay in most graphs
        b.graph.remove_unused()
    return b.graph


@st.composite
def inputs_for(draw, graph: Graph, *, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Random inputs for ``graph``: normal floats (times ``scale``), small ints, random bools.
    Symbolic dims are bound to drawn sizes (1-3), consistently across inputs."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    env: dict[str, int] = {}
    feeds = {}
    for v in graph.inputs:
        shape = []
        for d in v.shape:
            if isinstance(d, int):
                shape.append(d)
            else:
                name = str(d)
                if name not in env:
                    env[name] = draw(st.integers(1, 3))
                shape.append(d.evaluate(env))
        dt = v.dtype
        if dt.is_float:
            a = rng.standard_normal(shape) * scale
        elif dt is DType.BOOL:
            a = rng.random(shape) < 0.5
        else:
            a = rng.integers(-5 if dt.is_signed else 0, 6, shape)
        feeds[v.name] = np.asarray(a).astype(dt.numpy)
    return feeds


@st.composite
def graphs_with_inputs(draw, **graph_options) -> tuple[Graph, dict[str, np.ndarray]]:
    """(graph, feeds): ``graphs(**graph_options)`` and ``inputs_for`` that graph."""
    g = draw(graphs(**graph_options))
    return g, draw(inputs_for(g))
