"""Sub-plans: a few steps of a launch plan, runnable on their own by ``runtime.CompiledModel``.

``cortado debug-numerics`` runs each fused kernel (and the unfused kernels of the same nodes)
in isolation, on inputs it chooses. Rather than a second launcher, it cuts the steps out of
the model's plan and runs them through the ordinary runtime, so what it checks is what the
model runs. In a sub-plan:

- every size is concrete (symbols substituted), so the plan binds nothing from input shapes;
- every buffer a step touches is a plan *input*: the caller picks the initial contents — the
  reference value for what the steps read, NaN ("poison") for what they write, so elements a
  kernel forgets to write show up — and reads the results back with ``run(keep=True)``;
- a free reshape (an alias) of a value the sub-plan writes stays an alias, so chained steps
  read what the earlier step wrote; an alias of anything else is an input of its own;
- a value stored in a placed concat's buffer keeps its slice: the whole concat buffer becomes
  the input (the reference concat result, with the boxes the steps write poisoned).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from cortado.runtime import sizes
from cortado.runtime.dtypes import numpy_dtype


@dataclass
class SubPlan:
    plan: dict
    reads: list[str] = field(default_factory=list)       # inputs holding values the steps read
    writes: list[str] = field(default_factory=list)      # values the steps write (kept after run)
    roots: dict[str, list[str]] = field(default_factory=dict)   # concat buffer -> written boxes in it


def bind(expr, env: Mapping[str, int]):
    """A plan size expression with the symbols of ``env`` replaced by their values."""
    if isinstance(expr, int) or not env:
        return expr
    tree = ast.parse(str(expr), mode="eval")

    class Sub(ast.NodeTransformer):
        def visit_Name(self, node):
            return ast.copy_location(ast.Constant(env[node.id]), node) if node.id in env else node

    text = ast.unparse(Sub().visit(tree))
    try:
        return sizes.evaluate(text, {})
    except Exception:          # still names constexprs (BLOCK, BM): keep it an expression
        return text


def cut(plan: dict, step_indices: Sequence[int], env: Mapping[str, int]) -> SubPlan:
    """The steps ``step_indices`` of ``plan`` as a plan of their own (see the module docstring)."""
    steps = [plan["steps"][i] for i in step_indices]
    written: list[str] = []
    for s in steps:
        written.extend(n for n in s["outputs"] if n not in written)
    alias_of = plan["alias_of"]

    def internal(name: str) -> bool:
        """Resolved by the sub-plan itself: written by a step, or an alias of such a value."""
        if name in written:
            return True
        return name in alias_of and internal(alias_of[name])

    def shape(name: str) -> list[int]:
        return [sizes.evaluate(d, env) for d in plan["values"][name]["shape"]]

    values: dict[str, dict] = {}
    inputs: list[str] = []
    aliases: dict[str, str] = {}
    slices: dict[str, dict] = {}
    roots: dict[str, list[str]] = {}

    def use(name: str) -> None:
        if name in values:
            return
        values[name] = {"shape": shape(name), "dtype": plan["values"][name]["dtype"]}
        s = plan["slices"].get(name)
        if s is not None:
            slices[name] = {"root": s["root"], "offset": sizes.evaluate(s["offset"], env)}
            use_root(s["root"])
            if name in written:
                roots[s["root"]].append(name)
        elif name in alias_of and internal(name) and name not in written:
            aliases[name] = alias_of[name]
            use(alias_of[name])
        elif name not in inputs:
            inputs.append(name)

    def use_root(root: str) -> None:
        roots.setdefault(root, [])
        if root not in values:
            values[root] = {"shape": shape(root), "dtype": plan["values"][root]["dtype"]}
            inputs.append(root)

    new_steps = []
    for s in steps:
        args = []
        for a in s["args"]:
            if "value" in a:
                use(a["value"])
                args.append(dict(a))
            else:
                args.append({"size": bind(a["size"], env)})
        step = dict(s, args=args, grid=[bind(g, env) for g in s["grid"]])
        if "cpu" in s:      # the cpu target's numpy launch: the same values, and constants the kernel inlines
            for a in s["cpu"]["args"]:
                if "value" in a:
                    use(a["value"])
            step["cpu"] = dict(s["cpu"], args=[dict(a) if "value" in a else {"size": bind(a["size"], env)}
                                               for a in s["cpu"]["args"]])
        new_steps.append(step)
    used_kernels = {s["kernel"] for s in steps}
    sub = {
        "format": plan["format"],
        "symbols": [],
        "inputs": [{"name": n, "shape": values[n]["shape"], "dtype": values[n]["dtype"]} for n in inputs],
        "outputs": [],
        "constants": [],
        "values": values,
        "buffers": [],
        "placement": {},
        "alias_of": aliases,
        "slices": slices,
        "in_output": {},
        "copies": [],
        "kernels": [k for k in plan["kernels"] if k["name"] in used_kernels],
        "steps": new_steps,
    }
    if "cpu" in plan:
        sub["cpu"] = plan["cpu"]
    reads = [n for n in inputs if n not in written and n not in roots]
    return SubPlan(sub, reads, written, roots)


def poison(dtype: str):
    dt = numpy_dtype(dtype)
    if dt.kind == "f":
        return np.nan
    if dt.kind in "iu":
        return np.iinfo(dt).min
    return False


def feeds(sub: SubPlan, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Initial contents of every input of ``sub``: ``values`` for reads, poison for writes."""
    plan = sub.plan
    out: dict[str, np.ndarray] = {}
    for spec in plan["inputs"]:
        name, shp, dt = spec["name"], tuple(spec["shape"]), numpy_dtype(spec["dtype"])
        if name in sub.roots:
            a = np.array(values[name], dtype=dt, copy=True).reshape(shp)
            for box in sub.roots[name]:
                _box(a, plan, box)[...] = poison(spec["dtype"])
        elif name in sub.reads:
            a = np.array(values[name], dtype=dt, copy=True).reshape(shp)
        else:
            a = np.full(shp, poison(spec["dtype"]), dtype=dt)
        out[name] = a
    return out


def _box(root: np.ndarray, plan: dict, name: str) -> np.ndarray:
    s = plan["slices"][name]
    strides, acc = [], root.itemsize
    for d in reversed(root.shape):
        strides.append(acc)
        acc *= d
    flat = root.reshape(-1)[s["offset"]:]
    return np.lib.stride_tricks.as_strided(flat, shape=tuple(plan["values"][name]["shape"]),
                                           strides=tuple(reversed(strides)))
