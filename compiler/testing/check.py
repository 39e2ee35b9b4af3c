"""``check_pass``: property-test a graph pass on random valid graphs.

A pass is ``fn(graph) -> bool`` that mutates the graph in place. For every drawn graph the
check runs the pass on a copy and asserts:

1. the pass returns a bool, and returns False only when it left the graph unchanged (up to
   dead code: a pass may tidy unused nodes away without reporting it);
2. ``cortado.ops.verify`` accepts the result (structure, topological order, types);
3. the graph keeps its inputs and its output names, shapes and dtypes;
4. the reference evaluator (``cortado.ops.evaluate``) gives the same outputs on random
   inputs, within tolerances (NaN matches NaN, infinities match by sign, and an infinity
   matches a same-signed finite value within a factor 16 of the dtype's largest) — normal inputs
   always, and (by default in every example) inputs with NaN, infinities, signed zeros
   and denormals as well;
5. optionally (``idempotent=True``) a second run changes nothing.

On failure hypothesis shrinks the graph, and ``PassCheckError`` is raised with the shrunk
graph printed before and after the pass, the inputs, and what differed.
"""

from __future__ import annotations

import warnings
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
from hypothesis import Phase, given, seed as hseed, settings as hsettings
from hypothesis import strategies as st

from cortado.ir import Graph, Op, clone_graph, format_graph
from cortado.ops import evaluate, verify
from cortado.ops.evaluate import bind_symbols, concrete_shape

from . import strategies, targets as _targets
from .reference import overflow_at_range_edge

__all__ = ["check_pass", "check_pass_on", "PassCheckError", "UntestedPassError", "compare_outputs",
           "structure_key", "SPECIAL_SHARE"]

Pass = Callable[[Graph], bool]


class PassCheckError(AssertionError):
    """The pass changed what a graph computes, broke an IR invariant, or misreported a change."""


def _feeds_text(feeds: Mapping[str, np.ndarray]) -> str:
    lines = []
    for k, a in feeds.items():
        body = np.array2string(a, precision=4, threshold=24, edgeitems=3).replace("\n", "\n      ")
        lines.append(f"  {k}: {a.dtype}{list(a.shape)} = {body}")
    return "\n".join(lines)


def compare_outputs(expected: Mapping[str, np.ndarray], actual: Mapping[str, np.ndarray], *,
                    rtol: float = 1e-4, atol: float = 1e-5) -> list[str]:
    """Differences between two output dicts, as readable lines (empty when they match).

    Floats match when ``|a - e| <= atol + rtol * |e|`` elementwise, with ``atol`` scaled by the
    output's largest magnitude (folding reorders float arithmetic, which moves big values
    more); NaNs must be NaN in both; infinities must match, or meet a same-signed finite value at the
    edge of the dtype's range (``overflow_at_range_edge``). Other dtypes match exactly."""
    problems = []
    for name, e in expected.items():
        if name not in actual:
            problems.append(f"output {name!r} is missing after the pass")
            continue
        a = np.asarray(actual[name])
        e = np.asarray(e)
        if a.shape != e.shape or a.dtype != e.dtype:
            problems.append(f"output {name!r}: {a.dtype}{list(a.shape)} after, {e.dtype}{list(e.shape)} before")
            continue
        if e.dtype.kind in "fc":
            finite = np.isfinite(e)
            scale = float(np.abs(e[finite]).max()) if finite.any() else 0.0
            e64, a64 = e.astype(np.float64), a.astype(np.float64)
            with np.errstate(invalid="ignore"):
                close = np.isclose(a64, e64, rtol=rtol, atol=atol * max(1.0, scale), equal_nan=True)
            close |= (e64 == a64)   # equal infinities
            close |= overflow_at_range_edge(a64, e64, e.dtype)   # one side rounded past the edge
            if not close.all():
                idx = np.argwhere(~close)[0]
                where = tuple(int(i) for i in idx)
                problems.append(f"output {name!r} differs at {int((~close).sum())} of {e.size} elements; "
                                f"first at {where}: {float(a64[where]):.6g} after vs {float(e64[where]):.6g} before")
        elif not np.array_equal(a, e):
            problems.append(f"output {name!r} differs (exact dtype {e.dtype})")
    extra = sorted(set(actual) - set(expected))
    if extra:
        problems.append(f"new outputs after the pass: {extra}")
    return problems


def structure_key(graph: Graph):
    """What the live graph computes, structurally, independent of names and node order.

    Each value is keyed by its op, attributes and input keys (sorted for commutative binary
    ops), constants by dtype, shape and bytes, inputs by name. Two graphs with equal keys
    compute the same outputs the same way, node for node (a multiset of live node keys
    is part of the key, so a duplicated computation counts)."""
    from collections import Counter

    commutative = {"Add", "Mul", "Max", "Min", "And", "Or", "Xor", "Equal", "BitwiseAnd", "BitwiseOr", "BitwiseXor"}
    live = clone_graph(graph)
    live.remove_unused()
    keys: dict[int, object] = {}
    for v in live.inputs:
        keys[id(v)] = ("input", v.name)
    for v in live.constants.values():
        keys[id(v)] = ("const", v.dtype.value, tuple(v.shape), hash(v.const.tobytes()))
    nodes = Counter()
    for n in live.nodes:
        ins = tuple(None if v is None else keys[id(v)] for v in n.inputs)
        if n.op.value in commutative and len(ins) == 2 and None not in ins:
            ins = tuple(sorted(ins, key=repr))
        key = (n.op.value, repr(n.attrs), ins)
        nodes[hash(key)] += 1
        for i, o in enumerate(n.outputs):
            keys[id(o)] = hash((key, i))
    return tuple(keys[id(v)] for v in live.outputs), tuple(live.output_names), frozenset(nodes.items())


def _signature(g: Graph):
    return ([(v.name, v.type) for v in g.inputs], [(n, v.type) for n, v in zip(g.output_names, g.outputs)])


def _live_text(g: Graph) -> str:
    live = clone_graph(g)
    live.remove_unused()
    return format_graph(live)


def _fail(title: str, before: str, after: Graph | None, feeds, details: str = "") -> PassCheckError:
    parts = [title]
    if details:
        parts.append(details)
    parts.append("graph before the pass:\n" + before)
    if after is not None:
        try:
            parts.append("graph after the pass:\n" + format_graph(after))
        except Exception as e:  # a pass may leave a graph too broken to print
            parts.append(f"graph after the pass: <cannot print: {e}>")
    if feeds is not None:
        parts.append("inputs:\n" + _feeds_text(feeds))
    return PassCheckError("\n\n".join(parts))


def _evaluate_checked(graph: Graph, feeds, text: str) -> dict[str, np.ndarray]:
    """Outputs of the graph *before* the pass, checking every value against its type, so a
    registry bug (a reference that disagrees with shape inference) is reported as such and
    not blamed on the pass."""
    def registry_bug(detail: str) -> PassCheckError:
        return PassCheckError(f"the graph *before* the pass does not evaluate as its types say ({detail}); "
                              f"an op's reference disagrees with its shape inference (a bug in cortado.ops), "
                              f"or a generator drew invalid attributes:\n\n{text}")

    try:    # one run: the outputs are among the kept values, under their output names
        values = evaluate(graph, feeds, keep=True)
    except Exception as e:
        raise registry_bug(f"{type(e).__name__}: {e}") from e
    expected = {name: values[name] for name in graph.output_names}
    env = bind_symbols(graph, feeds)
    for node in graph.nodes:
        for v in node.outputs:
            a = values.get(v.name)
            want = concrete_shape(v.shape, env)
            if a is not None and (tuple(a.shape) != tuple(want) or a.dtype != v.dtype.numpy):
                raise registry_bug(f"{node.op.value} node {node.name} gives {a.dtype}{list(a.shape)} for "
                                   f"%{v.name}: {v.type}")
    return expected


def _quietly(fn, *args):
    """Evaluate without numpy's warnings: NaN and Inf inputs make them on purpose."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args)


def check_pass_on(pass_fn: Pass, graph: Graph, feeds: Mapping[str, np.ndarray] | None = None, *,
                  rtol: float = 1e-4, atol: float = 1e-5, idempotent: bool = False,
                  more_feeds: Sequence[Mapping[str, np.ndarray]] = ()) -> Graph:
    """Run ``pass_fn`` on a copy of ``graph`` and check it (see the module doc); returns the
    transformed copy. Without ``feeds`` the inputs are standard-normal with a fixed seed.
    ``more_feeds`` are further input sets the outputs must agree on (``check_pass`` passes
    inputs with NaN, infinities and denormals there, so the plain ones stay readable)."""
    if feeds is None:
        rng = np.random.default_rng(0)
        feeds = {v.name: rng.standard_normal([d if isinstance(d, int) else 2 for d in v.shape]).astype(v.dtype.numpy)
                 for v in graph.inputs}
    verify(graph)
    before_text = format_graph(graph)
    expected = _evaluate_checked(graph, feeds, before_text)
    g = clone_graph(graph)
    try:
        changed = pass_fn(g)
    except Exception as e:
        raise _fail(f"the pass raised {type(e).__name__}: {e}", before_text, g, feeds) from e
    if not isinstance(changed, bool):
        raise _fail(f"the pass returned {changed!r}; a pass returns True if it changed the graph, else False",
                    before_text, g, feeds)
    try:
        verify(g)
    except Exception as e:
        raise _fail(f"the graph no longer verifies: {e}", before_text, g, feeds) from None
    if not changed and _live_text(g) != _live_text(graph):
        raise _fail("the pass returned False but changed the graph", before_text, g, feeds)
    if _signature(g) != _signature(graph):
        raise _fail("the pass changed the graph's inputs or outputs (names, shapes or dtypes)", before_text, g,
                    feeds, f"before: {_signature(graph)}\nafter:  {_signature(g)}")
    try:
        actual = evaluate(g, feeds)
    except Exception as e:
        raise _fail(f"the transformed graph fails to evaluate: {type(e).__name__}: {e}", before_text, g,
                    feeds) from None
    problems = compare_outputs(expected, actual, rtol=rtol, atol=atol)
    if problems:
        raise _fail("the pass changed what the graph computes", before_text, g, feeds, "\n".join(problems))
    for other in more_feeds:
        want = _quietly(_evaluate_checked, graph, other, before_text)
        try:
            got = _quietly(evaluate, g, other)
        except Exception as e:
            raise _fail(f"the transformed graph fails to evaluate: {type(e).__name__}: {e}", before_text, g,
                        other) from None
        problems = compare_outputs(want, got, rtol=rtol, atol=atol)
        if problems:
            raise _fail("the pass changed what the graph computes (on inputs with special values)", before_text,
                        g, other, "\n".join(problems))
    if idempotent:
        once = format_graph(g)
        again = pass_fn(g)
        if again or format_graph(g) != once:
            raise _fail("a second run of the pass changed the graph again (it should reach a fixed point)",
                        before_text, g, feeds)
    return g


# Share of examples checked a second time on inputs with special values (NaN, Inf, signed
# zeros, denormals), which catch folds only right for finite inputs. Every example is also
# checked on plain normal inputs, so NaN never hides the other bugs. By default all of them:
# a fold only wrong for NaN or Inf (x*0) needs one to reach it, and the second evaluation
# costs little next to drawing the graph.
SPECIAL_SHARE = 1.0


class UntestedPassError(PassCheckError):
    """The pass changed none of the graphs drawn: the check proved nothing about it."""


def check_pass(pass_fn: Pass, *, graphs: st.SearchStrategy | None = None, settings: hsettings | None = None,
               rtol: float = 1e-4, atol: float = 1e-5, idempotent: bool = False,
               targets: Iterable[Op | str] | None = None, seed: int | None = None,
               special_values: float = SPECIAL_SHARE, require_change: bool = True, **graph_options) -> None:
    """Property-test ``pass_fn`` on random valid graphs; raises ``PassCheckError`` with the
    shrunk counterexample when the pass changes what a graph computes.

    ``graphs`` is a strategy of graphs (default ``strategies.graphs(**graph_options)``, e.g.
    ``ops=[...]``, ``max_nodes=12``, ``symbolic_batch=True``; by default a drawn share of
    graphs has a symbolic batch dim). The default draw is weighted toward ``targets``, the
    ops the pass rewrites; without them they are read from the pass's code
    (``cortado.testing.targets.pass_targets``: its ``node.op is Op.X`` tests and the op
    tables it reads). ``special_values`` is the share of examples whose inputs carry NaN,
    infinities, signed zeros and denormals. ``settings`` defaults to the active hypothesis
    profile (the number of examples, derandomization); ``seed`` fixes hypothesis's seed for
    a reproducible run without derandomizing.

    With ``require_change`` (the default) a pass that changed none of the drawn graphs raises
    ``UntestedPassError``: the run exercised nothing, so it cannot vouch for the pass.
    """
    if targets is not None:
        wanted = _targets.normalize_targets(targets)
    else:   # read from the code: only ops drawn by default (DISCRETE ones on request, see strategies)
        wanted = [op for op in _targets.pass_targets(pass_fn) if op in strategies.CONTINUOUS]
    if graphs is not None:
        source = graphs
    else:
        # a pass that names no op works on structure: weight duplicates (CSE-like) and
        # expressions over constants only (folding-like) instead
        options = {"symbolic_batch": None,
                   "favored_motifs": () if wanted else ("duplicate", "near_duplicate", "constant_expr"),
                   **graph_options}
        source = strategies.graphs(targets=wanted, **options)
    counts = {"runs": 0, "changed": 0}

    @given(data=st.data())
    def run(data):
        g = data.draw(source, label="graph")
        feeds = data.draw(strategies.inputs_for(g), label="inputs")
        special = data.draw(st.integers(0, 999), label="special") < special_values * 1000
        more = [data.draw(strategies.inputs_for(g, special=1.0), label="special inputs")] if special else []
        after = check_pass_on(pass_fn, g, feeds, rtol=rtol, atol=atol, idempotent=idempotent, more_feeds=more)
        counts["runs"] += 1
        counts["changed"] += format_graph(after) != format_graph(g)

    # one counterexample, shrunk, as a PassCheckError (not a group of every distinct failure);
    # no "explain" phase: its coverage notes point into this module, not into the pass
    base = settings if settings is not None else hsettings()
    run = hsettings(base, report_multiple_bugs=False,
                    phases=tuple(p for p in base.phases if p is not Phase.explain))(run)
    if seed is not None:
        run = hseed(seed)(run)
    run()
    if require_change and counts["runs"] and not counts["changed"]:
        named = ", ".join(op.value for op in wanted) or "none found"
        raise UntestedPassError(
            f"the pass changed none of the {counts['runs']} graphs drawn, so this run tested nothing: "
            f"draw graphs it rewrites with check_pass(..., targets=[op names]) (read from its code: {named}) "
            f"or graphs=strategies.graphs(ops=..., motifs=...); require_change=False accepts a pass "
            f"that legitimately finds no work")
