"""Structural checks of an artifact's launch plan, kernels and weights, before anything runs.

Content hashes prove an artifact is the one that was saved, not that it is well formed: a
hand-edited and resealed manifest could name a kernel that does not exist, or declare a weight
larger than the one stored, and a kernel would then read past the end of a buffer. So loading
checks what the runtime relies on — every key it reads and its type, every value a launch
names, every size expression, and that each stored weight has exactly the shape and dtype the
plan declares — and refuses with an ``ArtifactError`` naming the first problem.

The kernel source is only parsed here (``ast``), never executed.
"""

from __future__ import annotations

import ast
from typing import Any, Mapping

import numpy as np

from .dtypes import NUMPY_DTYPES, dtype_name
from .errors import ArtifactError, CortadoError
from .locks import parse
from .control import SUB_PREFIX
from .hostops import CONTROL, HOST_OPS
from .sizes import _compile as compile_size
from .sizes import names as size_names

__all__ = ["check_plan", "kernel_names"]


class _Bad(Exception):
    pass


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise _Bad(what)


def _dict(plan: Mapping, key: str, where: str = "plan") -> Any:
    _need(isinstance(plan, Mapping) and key in plan, f"{where} has no {key!r}")
    return plan[key]


def _str_list(v, where: str) -> list:
    _need(isinstance(v, list) and all(isinstance(x, str) for x in v), f"{where} is not a list of names")
    return v


def _size(d, where: str) -> None:
    if isinstance(d, bool) or not isinstance(d, (int, str)):
        raise _Bad(f"{where} is {d!r}, not a size")
    if isinstance(d, int):
        _need(d >= 0, f"{where} is negative ({d})")
        return
    try:
        compile_size(d)
    except CortadoError as e:
        raise _Bad(f"{where}: {e.message}") from None


def _shape(shape, where: str) -> None:
    _need(isinstance(shape, list), f"{where} is not a list of dims")
    for i, d in enumerate(shape):
        _size(d, f"{where}[{i}]")


def _dtype(name, where: str) -> None:
    _need(isinstance(name, str) and name in NUMPY_DTYPES,
          f"{where} is {name!r}, not an element type ({', '.join(NUMPY_DTYPES)})")


def _tensor_specs(specs, where: str, keys=("name",)) -> None:
    _need(isinstance(specs, list), f"{where} is not a list")
    for i, s in enumerate(specs):
        at = f"{where}[{i}]"
        _need(isinstance(s, Mapping), f"{at} is not an object")
        for k in keys:
            _need(isinstance(s.get(k), str), f"{at} has no {k!r} name")
        _shape(_dict(s, "shape", at), f"{at}.shape")
        _dtype(_dict(s, "dtype", at), f"{at}.dtype")


def kernel_names(source: str, what: str = "kernels.py") -> set[str]:
    """Names of the top-level functions of a kernel module (parsed, not run)."""
    try:
        tree = parse(source, filename="kernels.py")
    except (SyntaxError, ValueError) as e:
        raise ArtifactError(f"{what} is not valid Python ({e})") from None
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _check(plan: Mapping, constants: Mapping[str, np.ndarray], defined: set[str]) -> None:
    _need(isinstance(plan, Mapping), "the plan is not an object")
    _str_list(_dict(plan, "symbols"), "plan.symbols")
    _tensor_specs(_dict(plan, "inputs"), "plan.inputs")
    _tensor_specs(_dict(plan, "outputs"), "plan.outputs", keys=("name", "output"))
    values = _dict(plan, "values")
    _need(isinstance(values, Mapping), "plan.values is not an object")
    for name, info in values.items():
        _shape(_dict(info, "shape", f"value {name!r}"), f"value {name!r} shape")
        _dtype(_dict(info, "dtype", f"value {name!r}"), f"value {name!r} dtype")
    for spec in plan["inputs"] + plan["outputs"]:
        _need(spec["name"] in values, f"{spec['name']!r} is in the signature but not in plan.values")
    buffers = _dict(plan, "buffers")
    _need(isinstance(buffers, list), "plan.buffers is not a list")
    for i, b in enumerate(buffers):
        _size(_dict(b, "nbytes", f"plan.buffers[{i}]"), f"plan.buffers[{i}].nbytes")
    placement = _dict(plan, "placement")
    _need(isinstance(placement, Mapping), "plan.placement is not an object")
    for name, b in placement.items():
        _need(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < len(buffers),
              f"value {name!r} is placed in buffer {b!r}, which does not exist")
    alias_of, slices, in_output = (_dict(plan, k) for k in ("alias_of", "slices", "in_output"))
    _need(all(isinstance(m, Mapping) for m in (alias_of, slices, in_output)),
          "plan.alias_of, plan.slices and plan.in_output must be objects")
    for name, root in alias_of.items():
        _need(root in values, f"value {name!r} aliases {root!r}, which is not in plan.values")
    for name, sl in slices.items():
        _need(_dict(sl, "root", f"slice {name!r}") in values, f"slice {name!r} has an unknown root")
        _size(_dict(sl, "offset", f"slice {name!r}"), f"slice {name!r} offset")
    for name, pos in in_output.items():
        _need(isinstance(pos, int) and 0 <= pos < len(plan["outputs"]), f"value {name!r} is written to output "
              f"#{pos!r}, which does not exist")
    copies = _dict(plan, "copies")
    _need(isinstance(copies, list) and all(isinstance(c, list) and len(c) == 2 and c[0] in values
                                           and isinstance(c[1], int) and 0 <= c[1] < len(plan["outputs"])
                                           for c in copies), "plan.copies is malformed")
    names = _str_list(_dict(plan, "constants"), "plan.constants")
    stored = set(names) | {i["name"] for i in plan["inputs"]} | set(in_output) | set(slices) | set(alias_of) \
        | set(placement)
    kernels = _dict(plan, "kernels")
    _need(isinstance(kernels, list) and all(isinstance(k, Mapping) and isinstance(k.get("name"), str)
                                            for k in kernels), "plan.kernels is malformed")
    for k in kernels:
        _need(k["name"] in defined, f"kernel {k['name']!r} is not defined in kernels.py")
    steps = _dict(plan, "steps")
    _need(isinstance(steps, list), "plan.steps is not a list")
    bound = set(plan["symbols"])
    subplans = plan.get("subplans", [])
    _need(isinstance(subplans, list), "plan.subplans is not a list")
    for i, sub in enumerate(subplans):       # bodies of run-time If / Loop: plans of their own
        _need(isinstance(sub, Mapping) and isinstance(sub.get("source"), str) and isinstance(sub.get("plan"), Mapping),
              f"plan.subplans[{i}] is not a plan with its kernel source")
        sub_names = _str_list(_dict(sub["plan"], "constants", f"plan.subplans[{i}].plan"),
                              f"plan.subplans[{i}] constants")
        prefix = SUB_PREFIX.format(i)
        _need(all(prefix + n in constants for n in sub_names), f"plan.subplans[{i}] names weights the artifact lacks")
        try:
            _check(sub["plan"], {k[len(prefix):]: v for k, v in constants.items() if k.startswith(prefix)},
                   kernel_names(sub["source"]))
        except _Bad as e:
            raise _Bad(f"sub-plan {i}: {e}") from None
    dynamic = _str_list(plan.get("dynamic_symbols", []), "plan.dynamic_symbols")
    _need(all(s.isidentifier() for s in dynamic) and not set(dynamic) & bound and len(set(dynamic)) == len(dynamic),
          "plan.dynamic_symbols must be distinct identifiers, none of them an input's dim")
    for i, step in enumerate(steps):
        at = f"plan.steps[{i}]"
        _need(isinstance(step, Mapping), f"{at} is not an object")
        if "host" in step:
            _check_host_step(step, at, values, stored, set(dynamic), bound, len(subplans))
            continue
        _uses_bound(step, at, values, bound, set(dynamic))
        kernel = _dict(step, "kernel", at)
        _need(isinstance(kernel, str) and kernel in defined, f"{at} launches {kernel!r}, which kernels.py does not "
              "define")
        grid = _dict(step, "grid", at)
        _need(isinstance(grid, list) and 1 <= len(grid) <= 3, f"{at}.grid is not 1 to 3 sizes")
        for j, g in enumerate(grid):
            _size(g, f"{at}.grid[{j}]")
        _check_args(_dict(step, "args", at), at, values, stored)
        if "outputs" in step:         # the values this launch writes (older plans lack it)
            _need(isinstance(step["outputs"], list) and all(o in values for o in step["outputs"]),
                  f"{at}.outputs names values that are not in plan.values")
        configs = _dict(step, "configs", at)
        _need(isinstance(configs, Mapping) and all(isinstance(c, Mapping) for c in configs.values()),
              f"{at}.configs is malformed")
    _check_cpu(plan, values, stored)
    for name in names:
        _need(name in values, f"constant {name!r} is not in plan.values")
        a, info = constants[name], values[name]
        declared = tuple(info["shape"])
        _need(tuple(a.shape) == declared and dtype_name(a.dtype) == info["dtype"],
              f"weight {name!r} is stored as {dtype_name(a.dtype)}{tuple(a.shape)} but the plan declares "
              f"{info['dtype']}{declared}")


def _names_of(d) -> set[str]:
    return set(size_names(d)) if isinstance(d, str) else set()


def _uses_bound(step: Mapping, at: str, values: Mapping, bound: set[str], dynamic: set[str]) -> None:
    """A kernel step's sizes and the values it touches name no run-time symbol before a host
    step binds it (the runtime evaluates them when the step runs)."""
    used: set[str] = set()
    for g in step.get("grid", []):
        used |= _names_of(g)
    for a in step.get("args", []):
        if isinstance(a, Mapping):
            used |= _names_of(a.get("size"))
            if a.get("value") in values:
                for d in values[a["value"]]["shape"]:
                    used |= _names_of(d)
    early = sorted((used & dynamic) - bound)
    _need(not early, f"{at} uses the run-time size {', '.join(early)} before a host step binds it")


def _check_host_step(step: Mapping, at: str, values: Mapping, stored: set, dynamic: set[str],
                     bound: set[str], n_subplans: int = 0) -> None:
    """A host step: a known op, attributes of the types it takes, inputs and outputs with
    storage, and bindings of fresh run-time symbols to axes of its outputs."""
    op = HOST_OPS.get(step["host"]) if isinstance(step["host"], str) else None
    _need(op is not None, f"{at} runs host op {step['host']!r}, which this runtime does not have "
          f"(it has {', '.join(HOST_OPS)})")
    attrs = step.get("attrs", {})
    _need(isinstance(attrs, Mapping), f"{at}.attrs is not an object")
    _need(set(attrs) == set(op.attrs), f"{at}.attrs are {sorted(attrs)}, {op.name} takes {sorted(op.attrs)}")
    for k, ok in op.attrs.items():
        _need(ok(attrs[k]), f"{at}.attrs.{k} is {attrs[k]!r}, not a valid value")
    inputs = _dict(step, "inputs", at)
    _need(isinstance(inputs, list) and op.min_inputs <= len(inputs) <= op.max_inputs,
          f"{at}.inputs must be {op.min_inputs} to {op.max_inputs} values")
    for j, name in enumerate(inputs):
        if name is None and j >= op.min_inputs:
            continue
        _need(isinstance(name, str) and name in values and name in stored,
              f"{at}.inputs[{j}] reads {name!r}, which has no storage in the plan")
        used = set().union(*(_names_of(d) for d in values[name]["shape"])) & dynamic
        _need(used <= bound, f"{at} reads {name!r} before its run-time size is bound")
    for key in CONTROL.get(op.name, ()):
        _need(0 <= attrs[key] < n_subplans, f"{at}.attrs.{key} names sub-plan {attrs[key]}, which does not exist")
    outputs = _dict(step, "outputs", at)
    _need(isinstance(outputs, list) and (op.outputs < 0 or len(outputs) == op.outputs)
          and all(isinstance(o, str) and o in values and o in stored for o in outputs),
          f"{at}.outputs must be {op.outputs if op.outputs >= 0 else 'the'} values with storage in the plan")
    binds = step.get("binds", [])
    _need(isinstance(binds, list), f"{at}.binds is not a list")
    for j, b in enumerate(binds):
        _need(isinstance(b, list) and len(b) == 3 and isinstance(b[0], str) and isinstance(b[1], int)
              and isinstance(b[2], int) and not isinstance(b[1], bool) and not isinstance(b[2], bool),
              f"{at}.binds[{j}] is not [symbol, output, axis]")
        sym, pos, axis = b
        _need(sym in dynamic and sym not in bound, f"{at} binds {sym!r}, which is not a fresh run-time symbol")
        _need(0 <= pos < len(outputs), f"{at}.binds[{j}] names output #{pos}, which does not exist")
        shape = values[outputs[pos]]["shape"]
        _need(0 <= axis < len(shape) and shape[axis] == sym, f"{at}.binds[{j}]: axis {axis} of "
              f"{outputs[pos]!r} is not the dim {sym!r}")
        bound.add(sym)
    for o in outputs:
        used = set().union(*(_names_of(d) for d in values[o]["shape"])) & dynamic
        _need(used <= bound, f"{at} writes {o!r}, whose size names a run-time symbol no step binds before it")


def _check_cpu(plan: Mapping, values: Mapping, stored: set) -> None:
    """The numpy kernels of the cpu target (``plan["cpu"]``, absent in older plans): every
    step's ``cpu`` launch names a function of that source and values with storage."""
    if "cpu" not in plan:
        _need(all("cpu" not in s for s in plan["steps"]), "steps launch numpy kernels but plan.cpu is missing")
        return
    cpu = plan["cpu"]
    _need(isinstance(cpu, Mapping) and isinstance(cpu.get("source"), str), "plan.cpu.source is missing")
    defined = kernel_names(cpu["source"], "the numpy kernels")
    for i, step in enumerate(plan["steps"]):
        if "cpu" not in step:
            continue
        at = f"plan.steps[{i}].cpu"
        run = step["cpu"]
        _need(isinstance(run, Mapping) and run.get("kernel") in defined,
              f"{at} launches {run.get('kernel') if isinstance(run, Mapping) else run!r}, which the numpy kernels "
              "do not define")
        _need(isinstance(run.get("configs"), Mapping) and isinstance(run["configs"].get("cpu"), Mapping)
              and isinstance(run.get("grid"), list) and len(run["grid"]) == 1, f"{at} is malformed")
        _check_args(run.get("args"), at, values, stored)


def _check_args(args, at: str, values: Mapping, stored: set) -> None:
    """A launch's arguments: values with storage in the plan, or size expressions."""
    _need(isinstance(args, list), f"{at}.args is not a list")
    for j, a in enumerate(args):
        _need(isinstance(a, Mapping) and ("value" in a or "size" in a), f"{at}.args[{j}] is malformed")
        if "value" in a:
            _need(a["value"] in values and a["value"] in stored, f"{at}.args[{j}] reads {a['value']!r}, which "
                  "has no storage in the plan")
        else:
            _size(a["size"], f"{at}.args[{j}].size")


def check_plan(plan: Mapping, constants: Mapping[str, np.ndarray], source: str) -> None:
    """Raise ``ArtifactError`` naming the first way ``plan`` (with its weights and kernel
    source) is not something the runtime can execute safely."""
    defined = kernel_names(source)
    try:
        _check(plan, constants, defined)
    except _Bad as e:
        raise ArtifactError(f"the launch plan is malformed: {e}", hint="re-save the artifact from the compiler") \
            from None
    except (TypeError, KeyError, AttributeError) as e:
        raise ArtifactError(f"the launch plan is malformed ({type(e).__name__}: {e})",
                            hint="re-save the artifact from the compiler") from None
