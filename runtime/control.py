"""Run-time control flow: the If and Loop host steps, whose bodies are sub-plans.

A plan with run-time control flow carries its bodies in ``plan["subplans"]``: each a launch
plan of its own with its kernel source, its weights stored in the artifact's weights file
under ``sub<i>/<name>``. The runtime builds one ``CompiledModel`` per body once (under the
model's load lock) and calls it like any model, so a body is compiled once, fused inside, and
reused by every iteration and every call.

- If: run the branch the condition picks on the captured values.
- Loop: run the body while ``iteration < M`` and the condition holds, feeding its carried
  outputs back in; each scan output is the stack of its per-iteration values (an empty stack
  when no iteration runs).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .dtypes import numpy_dtype
from .errors import InputError

__all__ = ["SUB_PREFIX", "loop", "run_control", "submodel"]

SUB_PREFIX = "sub{}/"


def submodel(model, index: int):
    """The body ``index`` of ``model``'s plan as a model of ``model``'s class (built once)."""
    subs = model.__dict__.setdefault("_subs", {})
    sub = subs.get(index)
    if sub is not None:
        return sub
    with model._load_lock:
        sub = subs.get(index)
        if sub is None:          # a body is a model of the same kind as the one that holds it
            spec = model.plan["subplans"][index]
            prefix = SUB_PREFIX.format(index)
            consts = {k[len(prefix):]: v for k, v in model.constants.items() if k.startswith(prefix)}
            sub = type(model)(spec["plan"], spec["source"], consts, target=model.device,
                              max_elements=model.max_elements)
            subs[index] = sub
    return sub


def _call(sub, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    outs = sub.run(dict(zip(sub.input_names, arrays)))
    return [outs[n] for n in sub.output_names]


def _one(a, what: str, cast):
    a = np.asarray(a)
    if a.size != 1:
        raise InputError(f"{what} must hold one value, got shape {a.shape}")
    return cast(a.reshape(-1)[0])


def loop(body: Callable[[list], list], m, cond, rest: Sequence[np.ndarray], carried: int,
         scan_dtypes: Sequence, scan_shapes: Sequence) -> list[np.ndarray]:
    """ONNX Loop semantics over ``body`` (arrays in, arrays out); ``scan_shapes`` give the
    element shape of each scan output for the empty stack of a loop that runs no iteration."""
    trips = _one(m, "Loop's trip count", int)
    go = _one(cond, "Loop's condition", bool)
    state = [np.asarray(s) for s in rest[:carried]]
    captured = list(rest[carried:])
    scans: list[list[np.ndarray]] = [[] for _ in scan_dtypes]
    i = 0
    while i < trips and go:
        outs = body([np.array(i, np.int64), np.array(go), *state, *captured])
        go = _one(outs[0], "Loop's continuation condition", bool)
        new = outs[1:1 + carried]
        for k, (old, v) in enumerate(zip(state, new)):
            if np.shape(v) != old.shape:
                raise InputError(f"Loop-carried value #{k} changes shape from {old.shape} to {np.shape(v)}")
        state = [np.asarray(v) for v in new]
        for k, v in enumerate(outs[1 + carried:]):
            scans[k].append(np.asarray(v))
        i += 1
    stacked = []
    for k, parts in enumerate(scans):
        if parts:
            stacked.append(np.stack(parts).astype(scan_dtypes[k], copy=False))
        else:
            stacked.append(np.zeros((0,) + tuple(scan_shapes[k] or ()), dtype=scan_dtypes[k]))
    return state + stacked


def scan(body: Callable[[list], list], arrays: Sequence[np.ndarray], state: int, scan_inputs: int,
         in_axes: Sequence[int], in_dirs: Sequence[int], out_axes: Sequence[int], out_dirs: Sequence[int],
         out_dtypes: Sequence, out_shapes: Sequence) -> list[np.ndarray]:
    """ONNX Scan semantics over ``body``: one call per slice of the scan inputs (reversed where
    a direction is 1), the state carried, each scan output stacked along its axis."""
    carried = [np.asarray(a) for a in arrays[:state]]
    xs = [np.asarray(a) for a in arrays[state:state + scan_inputs]]
    captured = list(arrays[state + scan_inputs:])
    lengths = {x.shape[ax] for x, ax in zip(xs, in_axes)}
    if len(lengths) != 1:
        raise InputError(f"Scan's inputs have different lengths along their scan axes: {sorted(lengths)}")
    n = lengths.pop()
    parts: list[list[np.ndarray]] = [[] for _ in out_dtypes]
    for t in range(n):
        slices = [np.take(x, n - 1 - t if d else t, axis=ax) for x, ax, d in zip(xs, in_axes, in_dirs)]
        outs = body([*carried, *slices, *captured])
        for k, (old, v) in enumerate(zip(carried, outs[:state])):
            if np.shape(v) != old.shape:
                raise InputError(f"Scan state #{k} changes shape from {old.shape} to {np.shape(v)}")
        carried = [np.asarray(v) for v in outs[:state]]
        for k, v in enumerate(outs[state:]):
            parts[k].append(np.asarray(v))
    stacked = []
    for k, seq in enumerate(parts):
        if not seq:
            stacked.append(np.zeros(tuple(out_shapes[k] or (0,)), dtype=out_dtypes[k]))
            continue
        if out_dirs[k]:
            seq = seq[::-1]
        stacked.append(np.stack(seq, axis=out_axes[k]).astype(out_dtypes[k], copy=False))
    return carried + stacked


def run_control(model, step: dict, arrays: Sequence[np.ndarray], scan_shapes: Sequence) -> list[np.ndarray]:
    """Run an If or Loop host step of ``model`` on host arrays."""
    attrs = step["attrs"]
    if step["host"] == "If":
        taken = attrs["then"] if _one(arrays[0], "If's condition", bool) else attrs["else"]
        return _call(submodel(model, taken), arrays[1:])
    sub = submodel(model, attrs["body"])
    if step["host"] == "Scan":
        dtypes = [numpy_dtype(o["dtype"]) for o in sub.plan["outputs"][attrs["state"]:]]
        return scan(lambda a: _call(sub, a), arrays, attrs["state"], attrs["scan_inputs"], attrs["in_axes"],
                    attrs["in_dirs"], attrs["out_axes"], attrs["out_dirs"], dtypes, [None] * len(dtypes))
    carried = attrs["carried"]
    dtypes = [numpy_dtype(o["dtype"]) for o in sub.plan["outputs"][1 + carried:]]
    return loop(lambda a: _call(sub, a), arrays[0], arrays[1], arrays[2:], carried, dtypes, scan_shapes)
