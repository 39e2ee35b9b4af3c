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

import math
from typing import Callable, Iterable, Mapping

import numpy as np
from hypothesis import strategies as st

from cortado.ir import DType, Graph, Op, Sym

from . import motifs as _motifs, opgen_discrete as _discrete  # noqa: F401  (registration)
from . import opgen, opgen_tensor, targets as _targets
from .builder import GraphBuilder
from .opgen import GENERATORS, MOTIF_OPS, MOTIFS, generator, registered

# Drawn by default: a rounding difference upstream moves their results by a rounding error.
CONTINUOUS = opgen.CONTINUOUS + opgen_tensor.CONTINUOUS_TENSOR_OPS
# Drawn on request: a rounding difference can flip them by a whole unit (see opgen's doc).
DISCRETE = opgen.DISCRETE + opgen_tensor.DISCRETE_TENSOR_OPS

__all__ = ["graphs", "inputs_for", "graphs_with_inputs", "supported_ops", "missing_generators", "CONTINUOUS",
           "DISCRETE", "GENERATORS", "MOTIFS", "MOTIF_OPS", "SPECIAL_VALUES", "GraphBuilder", "generator"]


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


def _input_shape(b: GraphBuilder, symbolic_batch: bool, image: bool = False) -> tuple:
    """A graph input's shape; ``image`` forces an NCHW one, with a symbolic batch if allowed."""
    kind = 0 if image else b.integer(0, 2)
    if kind == 0:   # NCHW image
        n = Sym("N") if symbolic_batch and (image or b.flag()) else b.integer(1, 2)
        return (n, b.integer(1, 4), b.integer(1, b.max_spatial), b.integer(1, b.max_spatial))
    rank = b.integer(0, 4) if kind == 1 else 3
    return tuple(b.integer(1, b.max_dim) for _ in range(rank))


def _target_steps(targets: Iterable[Op | str] | None, op_list: list[Op], table: Mapping, names: list[str]):
    """The ops (with a generator) and motifs (that build one) a draw weighted toward
    ``targets`` picks from; both empty without targets."""
    wanted = set(_targets.normalize_targets(targets))
    if not wanted:
        return [], []
    ops = [op for op in op_list + [o for o in wanted if o not in op_list] if op in wanted and op in table
           and registered(op)]
    motifs = []
    for m in names:        # a motif made mostly of targets is repeated: drawn (much) more often,
        built = MOTIF_OPS.get(m)     # and one that builds every target (Relu over Mul) more again
        if built:
            whole = 2 if len(wanted) >= 2 and wanted <= built else 1
            motifs += [m] * math.ceil(8 * whole * len(built & wanted) / len(built)) ** 2
    return ops, motifs


@st.composite
def graphs(draw, *, ops: Iterable[Op | str] | None = None, motifs: Iterable[str] | bool = True,
           min_nodes: int = 2, max_nodes: int = 12, max_inputs: int = 2, symbolic_batch: bool | None = False,
           max_dim: int = 4, max_spatial: int = 6, generators: Mapping[Op, Callable] | None = None,
           targets: Iterable[Op | str] | None = None, favored_motifs: Iterable[str] = ()) -> Graph:
    """A random valid graph (float32 inputs). ``ops`` limits the ops drawn (default
    ``supported_ops()`` plus the ops of ``generators``); ``motifs`` is True, False, or names
    from ``MOTIFS``; ``generators`` adds or replaces per-op generators for this strategy only
    (``fn(builder, op) -> Value | None``). ``symbolic_batch=None`` makes half the graphs
    symbolic: their first input an NCHW image with a symbolic batch ``N``, the second static
    (rewrites of static shapes still find work in them).

    ``targets`` (ops a pass rewrites) weights the draw toward them: two steps in three add
    a target op or a motif that builds one, and the last one to three steps do, so the
    graph's first output reads a target, and another output is a target's result, or in two
    graphs in three every target's result is an output (a rewrite hidden behind dead code or a
    Relu shows nowhere). Target
    ops are drawn even when ``ops`` leaves them out, if they have a generator. A third of the
    targeted steps read the latest result, so target ops chain (``Relu(Mul(x, c))``,
    ``Abs(Elu(x))``) as the producer-consumer patterns passes match, and a third read a
    graph input. ``favored_motifs`` are
    weighted the same way (``check_pass`` favors duplicates and constant expressions for a
    pass that names no op); ``motifs=False`` turns them off too, as it does target motifs."""
    b = GraphBuilder(draw, max_dim=max_dim, max_spatial=max_spatial)
    b.wanted = frozenset(_targets.normalize_targets(targets))
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
    target_ops, target_motifs = _target_steps(targets, op_list, table, list(MOTIFS) if motifs is not False else [])
    favored = [m for m in favored_motifs if m not in target_motifs] if motifs is not False else []
    unknown = [m for m in favored if m not in MOTIFS]
    if unknown:
        raise ValueError(f"unknown motif(s) {unknown}; known: {', '.join(MOTIFS)}")
    targeted = target_ops + target_motifs + favored

    target_values = []

    def target_step():
        # half target ops, half motifs that build them (favored ones count as motifs); a
        # failing graph shrinks toward the bare target ops
        motif_picks = target_motifs + favored
        pick = b.choice(motif_picks if motif_picks and (not target_ops or b.flag()) else target_ops)
        step = table[pick] if isinstance(pick, Op) else MOTIFS[pick]
        latest = [v for v in reversed(b.pool) if v.producer is not None]
        mode = b.integer(0, 2)
        if mode == 0 or (mode == 1 and not latest):
            y = step(b)
        else:
            # read the latest result (target ops chain) or a graph input (which carries the
            # symbolic dims and the special values); constants stay available
            saved = b.pool
            focus = [latest[0]] if mode == 1 else list(b.graph.inputs)
            b.pool = [v for v in saved if v.is_constant] + focus
            b.focus = {id(v) for v in focus}
            start = len(b.pool)
            try:
                y = step(b)
            finally:
                b.pool = saved + b.pool[start:]
                b.focus = set()
        if y is not None:
            target_values.append(y)
        return y

    drawn_symbolic = symbolic_batch is None
    if drawn_symbolic:    # half the graphs: a symbolic image input and (if allowed) a static one
        symbolic_batch = b.flag()
    both = drawn_symbolic and symbolic_batch and max_inputs >= 2
    for i in range(2 if both else b.integer(1, max_inputs)):
        b.add_input(_input_shape(b, symbolic_batch and (not both or i == 0), image=both and i == 0))
    first_node = 0
    steps = b.integer(min_nodes, max_nodes)
    final = b.integer(1, 3) if targeted else 0       # the last steps add targets (below)
    for _ in range(steps * 3):   # a step that finds no operand retries, within limits
        if len(b.graph) - first_node >= steps - final:
            break
        if targeted and b.integer(0, 3) != 3:
            target_step()
        elif names and b.integer(0, 4) >= 3:
            MOTIFS[b.choice(names)](b)
        elif op_list:
            table[b.choice(op_list)](b)
    if targeted:    # the last steps add targets (a few tries each: one may not fit)
        want = len(target_values) + final
        for _ in range(4 * final):
            if len(target_values) >= want:
                break
            target_step()
    if len(b.graph) == 0:
        b.add(Op.IDENTITY, [b.graph.inputs[0]])
    produced = [v for n in b.graph.nodes for v in n.outputs]
    outputs = [produced[-1]]
    for _ in range(b.integer(0, 2)):
        anything = b.integer(0, 5) == 5    # rarely a graph input or a constant as output
        extra = b.pick(lambda v, anything=anything: (v.producer is None) == anything)
        if extra is not None:
            outputs.append(extra)
    if target_values:     # a target's result is seen, not hidden downstream: one, or every one
        if b.integer(0, 2) == 0:
            outputs.append(target_values[-1 - b.integer(0, len(target_values) - 1)])
        else:
            outputs += [v for v in target_values if not any(v is o for o in outputs)]
    for i, v in enumerate(outputs):
        b.graph.add_output(v, f"out{i}")
    if b.integer(0, 2) == 2:    # dead branches stay in most graphs
        b.graph.remove_unused()
    return b.graph


# Special float values planted in a share of input draws: NaN and infinities (a fold such as
# x*0 -> 0 is only right for finite x), signed zeros, a denormal, large and tiny magnitudes.
# "Large" stays well inside float16's range: a precision pass storing half types must not
# be accused of an overflow the input forced on it (infinities test that path).
SPECIAL_VALUES = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 1e3, -1e3, 1e-30, -7.5, 12.0],
                          np.float64)


NONFINITE = SPECIAL_VALUES[~np.isfinite(SPECIAL_VALUES)]


@st.composite
def inputs_for(draw, graph: Graph, *, scale: float = 1.0, special: float = 0.0) -> dict[str, np.ndarray]:
    """Random inputs for ``graph``: normal floats (times ``scale``), small ints, random bools.
    Symbolic dims are bound to drawn sizes (2 or 3, sometimes 1), consistently across inputs.

    With ``special`` (a probability), that share of draws plants special values
    (``SPECIAL_VALUES``: NaN, +-Inf, +-0, denormals, large) at a few positions of each float
    input, and shifts the rest away from zero mean (so sign-dependent rewrites see one sign
    dominate)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    plant = special > 0 and draw(st.integers(0, 999)) < special * 1000
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
                    env[name] = draw(st.sampled_from([2, 3, 2, 3, 1]))
                shape.append(d.evaluate(env))
        dt = v.dtype
        if dt.is_float:
            a = rng.standard_normal(shape) * scale
            if plant:
                a = np.asarray(a + rng.choice([0.0, 2.0, -2.0]))
                flat = a.reshape(-1).copy()
                k = int(rng.integers(1, max(1, flat.size // 3) + 1))
                planted = rng.choice(SPECIAL_VALUES, k)
                # one planted value and half the others NaN or an infinity: what a fold that
                # is only right for finite inputs (x*0, x-x) needs to reach it
                nonfinite = rng.random(k) < 0.5
                nonfinite[0] = True
                planted[nonfinite] = rng.choice(NONFINITE, int(nonfinite.sum()))
                flat[rng.choice(flat.size, size=k, replace=False)] = planted
                a = flat.reshape(shape)
        elif dt is DType.BOOL:
            a = rng.random(shape) < 0.5
        else:
            a = rng.integers(-5 if dt.is_signed else 0, 6, shape)
        with np.errstate(over="ignore"):
            feeds[v.name] = np.asarray(a).astype(dt.numpy)
    return feeds


@st.composite
def graphs_with_inputs(draw, **graph_options) -> tuple[Graph, dict[str, np.ndarray]]:
    """(graph, feeds): ``graphs(**graph_options)`` and ``inputs_for`` that graph."""
    g = draw(graphs(**graph_options))
    return g, draw(inputs_for(g))
