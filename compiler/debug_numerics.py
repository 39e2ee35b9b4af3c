"""Numerics bisection: which fused kernel of a model computes something else than its nodes?

``check_numerics`` compiles the model at the requested level, computes every value of the
optimized graph with the numpy reference evaluator on one set of inputs, and then, for each
kernel launch of the plan in order:

1. runs the fused kernel *in isolation* (a one-step sub-plan, ``cortado.subplan``) on the
   reference values of what it reads, and compares what it writes with the reference;
2. runs the unfused kernels of the same nodes (the O0 compile of the same optimized graph,
   so the fusion decisions are the same) on the same inputs, chained, and compares them too —
   when they diverge as well, the first diverging node names the op whose lowering is wrong;
   when only the fused kernel diverges, the fault is in how the group was fused;
3. after the isolated checks, runs the whole fused model once, keeping every kernel's
   output, so a kernel that is right alone but wrong inside the model (an input overwritten
   by buffer reuse, a wrong launch order) is caught too.

The first group that diverges, in launch order, is named: later groups read its results, so
it is where to look first. Tolerances follow ``codegen.repro.tolerance`` (per output dtype,
looser for tf32 dots on GPUs) unless given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from cortado.codegen.repro import compare, reference_values, symbol_env, tolerance
from cortado.runtime.model import CompiledModel

from . import subplan


@dataclass
class Check:
    """One value compared: ``result`` is ``codegen.repro.compare``'s dict."""

    value: str
    result: dict

    @property
    def ok(self) -> bool:
        return self.result["ok"]


@dataclass
class GroupReport:
    index: int                      # launch index in the plan
    kernel: str
    kind: str
    nodes: list[str]
    ops: list[str]
    fused: list[Check] = field(default_factory=list)     # fused kernel alone vs reference
    unfused: list[Check] = field(default_factory=list)   # O0 kernels alone vs reference
    in_model: list[Check] = field(default_factory=list)  # fused kernel inside the full run
    first_bad_node: str | None = None                    # first O0 node off the reference

    @property
    def isolated_ok(self) -> bool:
        return all(c.ok for c in self.fused) and all(c.ok for c in self.unfused)

    @property
    def ok(self) -> bool:
        return self.isolated_ok and all(c.ok for c in self.in_model)

    def worst(self, checks: list[Check]) -> Check | None:
        return max(checks, key=lambda c: (not c.ok, c.result["max_abs"]), default=None)


@dataclass
class NumericsReport:
    model: str
    opt_level: int
    target: str
    inputs: dict[str, tuple]
    groups: list[GroupReport]
    outputs: list[Check]                # model outputs of the full fused run vs reference

    @property
    def first_divergence(self) -> GroupReport | None:
        for g in self.groups:
            if not g.isolated_ok:
                return g
        for g in self.groups:
            if not g.ok:
                return g
        return None

    @property
    def ok(self) -> bool:
        return self.first_divergence is None and all(c.ok for c in self.outputs)


def check_numerics(model, *, feeds: Mapping[str, np.ndarray] | None = None, opt_level: int = 2,
                   target: str = "auto", dtype: str = "float32", weights=None, random_weights: bool = False,
                   input_shapes=None,
                   rtol: float | None = None, atol: float | None = None,
                   progress: Callable[[str], None] | None = None, seed: int = 0) -> NumericsReport:
    """Run every fused kernel of ``model`` against its unfused reference (module docstring).

    ``dtype`` applies to the fused compile; the unfused one compiles its optimized graph, which
    already holds the chosen precision, at O0."""
    from .driver import compile as compile_model

    say = progress or (lambda msg: None)
    fused = compile_model(model, weights=weights, random_weights=random_weights, input_shapes=input_shapes,
                          target=target, dtype=dtype, opt_level=opt_level, progress=say)
    say("compiling the unfused kernels of the same graph")
    unfused = compile_model(fused.graph, target=target, opt_level=0)
    if feeds is None:
        feeds = random_feeds(fused, seed)
    say("computing reference values")
    values = reference_values(fused, feeds)
    env = symbol_env(fused, feeds, values)
    family = fused.device.family

    def tol(name: str, configs: dict) -> tuple[float, float]:
        r, a = tolerance(fused.plan["values"][name]["dtype"], family, configs.get(family))
        return (r if rtol is None else rtol, a if atol is None else atol)

    o0_steps: dict[str, int] = {}
    for i, st in enumerate(unfused.plan["steps"]):
        if "host" in st:
            continue                  # host steps (numpy) are not kernels to check
        for n in st["nodes"]:
            o0_steps[n] = i
    per_launch = fused.stats.get("per_kernel", [])
    groups: list[GroupReport] = []
    steps = [st for st in fused.plan["steps"] if "host" not in st]
    index = [i for i, st in enumerate(fused.plan["steps"]) if "host" not in st]
    for k, st in enumerate(steps):
        i = index[k]
        info = per_launch[k] if k < len(per_launch) else {}
        g = GroupReport(i, st["kernel"], info.get("kind", "?"), list(st["nodes"]), list(info.get("ops", [])))
        say(f"checking kernel {k + 1}/{len(steps)}: {st['kernel']}")
        got = _run_isolated(fused, [i], env, values)
        g.fused = [Check(v, compare(got[v], values[v], *tol(v, st["configs"]))) for v in st["outputs"]]
        idx = sorted({o0_steps[n] for n in st["nodes"] if n in o0_steps})
        if idx:
            got0 = _run_isolated(unfused, idx, env, values)
            g.unfused = [Check(v, compare(got0[v], values[v], *tol(v, st["configs"]))) for v in st["outputs"]
                         if v in got0]
            for j in idx:
                s0 = unfused.plan["steps"][j]
                if not all(compare(got0[v], values[v], *tol(v, s0["configs"]))["ok"] for v in s0["outputs"]):
                    g.first_bad_node = s0["nodes"][0]
                    break
        groups.append(g)
    say("running the fused model")
    kept = fused.run(feeds, keep=True)
    for g, st in zip(groups, steps):
        g.in_model = [Check(v, compare(kept[v], values[v], *tol(v, st["configs"]))) for v in st["outputs"]]
    graph = fused.graph
    outputs = []
    for name, v in zip(graph.output_names, graph.outputs):
        tf32 = any(st["configs"].get(family, {}).get("PRECISION") == "tf32" for st in steps)
        rt, at = tolerance(v.dtype.value, family, {"PRECISION": "tf32"} if tf32 else None)
        rt, at = (rt if rtol is None else rtol, at if atol is None else atol)
        outputs.append(Check(name, compare(kept[name], values[v.name], rt, at)))
    shapes = {k: (str(np.asarray(a).dtype), tuple(np.shape(a))) for k, a in feeds.items()}
    return NumericsReport(getattr(graph, "name", "model"), opt_level, fused.target, shapes, groups, outputs)


def random_feeds(model: CompiledModel, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded random inputs (symbolic dims as 1), as ``cortado run`` makes them."""
    from .commands.common import random_input

    rng = np.random.default_rng(seed)
    return {info["name"]: random_input(info, rng) for info in model.inputs}


def _run_isolated(model: CompiledModel, step_indices, env, values) -> dict[str, np.ndarray]:
    sub = subplan.cut(model.plan, step_indices, env)
    runner = CompiledModel(sub.plan, model.source, {}, target=model.target)
    return runner.run(subplan.feeds(sub, values), keep=True)


# -- text report -----------------------------------------------------------------------------
def _fmt(checks: list[Check]) -> str:
    if not checks:
        return "-"
    worst = max(checks, key=lambda c: (not c.ok, c.result["max_abs"]))
    r = worst.result
    text = f"abs {r['max_abs']:.2g} rel {r['max_rel']:.2g}"
    return text if all(c.ok for c in checks) else f"DIVERGES {text}"


def render_text(report: NumericsReport) -> str:
    kw = max([len(g.kernel) for g in report.groups] + [6])
    lines = [f"debug-numerics {report.model} at O{report.opt_level} on {report.target}, inputs "
             + ", ".join(f"{k}: {dt}{list(s)}" for k, (dt, s) in report.inputs.items()),
             f"{'#':>3}  {'kernel':<{kw}}  {'kind':<9}  {'fused alone':<26}  {'unfused alone':<26}  "
             f"{'in model':<26}  nodes"]
    for g in report.groups:
        nodes = ", ".join(g.nodes)
        if len(nodes) > 60:
            nodes = nodes[:57] + "..."
        lines.append(f"{g.index:>3}  {g.kernel:<{kw}}  {g.kind:<9}  {_fmt(g.fused):<26}  {_fmt(g.unfused):<26}  "
                     f"{_fmt(g.in_model):<26}  {nodes}")
    bad = report.first_divergence
    if bad is not None:
        lines.append("")
        lines.append(f"first divergence: kernel #{bad.index} {bad.kernel} ({bad.kind})")
        ops = bad.ops or [""] * len(bad.nodes)
        lines.append("  nodes: " + ", ".join(f"{n} ({o})" if o else n for n, o in zip(bad.nodes, ops)))
        for label, checks in (("fused kernel alone", bad.fused), ("unfused kernels alone", bad.unfused),
                              ("fused kernel inside the model", bad.in_model)):
            for c in checks:
                r = c.result
                state = "ok" if c.ok else f"DIVERGES ({r['bad']} element(s){'; ' + r['note'] if r['note'] else ''})"
                lines.append(f"  {label}: {c.value}: max abs error {r['max_abs']:.3g}, "
                             f"max rel error {r['max_rel']:.3g}: {state}")
        lines.append("  " + _diagnosis(bad))
    for c in report.outputs:
        r = c.result
        lines.append(f"model output {c.value}: max abs error {r['max_abs']:.3g}, max rel error {r['max_rel']:.3g}"
                     f"{'' if c.ok else ' DIVERGES'}")
    if report.ok:
        lines.append(f"all {len(report.groups)} kernels match the reference")
    elif bad is None:
        lines.append("every kernel matches alone and inside the model, but the model outputs do not: "
                     "look at the output copies of the launch plan")
    return "\n".join(lines)


def _diagnosis(g: GroupReport) -> str:
    fused_ok = all(c.ok for c in g.fused)
    unfused_ok = all(c.ok for c in g.unfused)
    if not fused_ok and unfused_ok and g.unfused:
        return ("the same nodes unfused match the reference: the fault is in how this group is fused "
                "(its kernel generator, epilogue/prologue or index math)")
    if not unfused_ok:
        where = f", first at node {g.first_bad_node}" if g.first_bad_node else ""
        return (f"the unfused kernels diverge too{where}: an op's lowering (codegen) or its numpy reference "
                f"is wrong")
    if not fused_ok:
        return "the fused kernel diverges from the reference"
    return ("the kernel matches alone but not inside the model: one of its inputs was overwritten before it "
            "ran (memory plan) or the launch order is wrong")
