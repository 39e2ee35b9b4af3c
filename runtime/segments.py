"""Running a launch plan whose sizes depend on data: segments between host steps.

A plan with host steps (``hostops.py``: NonZero, NonMaxSuppression, Unique, TopK with a run-time
K) declares the fresh size symbols those steps bind in ``plan["dynamic_symbols"]``. The steps
between two host steps form a segment. One call runs:

1. the kernels of a segment, each bound to buffers and sizes as the plan says, with the
   symbols known so far (the inputs' dims, then every symbol bound before it);
2. at a host step: wait for the device, copy its inputs to the host, run the numpy op, bind the
   symbols its outputs' sizes carry, check the new sizes against the element limit and the
   shapes the plan declares, and copy the results into their storage;
3. the next segment, and so on; the graph outputs are allocated when their sizes are known.

Storage whose size names no run-time symbol comes from the call's pooled buffer set as in a
static run. A buffer whose size names one is *late*: allocated for this call alone, when a value
in it is first needed (its symbols are bound by then: the plan is checked to bind every symbol
before any step uses it), and dropped with the call. So calls never share storage, and a call
that finds 0 boxes allocates nothing for them. A kernel whose every output is empty is not
launched. Kernels never recompile: their sizes are arguments.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import sizes
from .dtypes import numpy_dtype
from .errors import ArtifactError, CortadoError, InputError
from .control import run_control
from .hostops import CONTROL, run_host_op
from .launch import Launch
from .limits import check_elements, max_elements

__all__ = ["late_buffers", "late_values", "run_segments"]


def late_buffers(plan: Mapping) -> set[int]:
    """Indices of the plan's buffers whose size names a run-time symbol."""
    late = set(plan.get("dynamic_symbols", ()))
    if not late:
        return set()
    return {i for i, b in enumerate(plan["buffers"]) if sizes.names(b["nbytes"]) & late}


def late_values(plan: Mapping) -> dict[str, set[str]]:
    """Value name -> the run-time symbols its shape names (only values that name some)."""
    late = set(plan.get("dynamic_symbols", ()))
    out: dict[str, set[str]] = {}
    if late:
        for name, info in plan["values"].items():
            used = set().union(*(sizes.names(d) for d in info["shape"])) & late
            if used:
                out[name] = used
    return out


class _Call:
    """The storage and sizes of one call, resolved lazily as symbols become known."""

    def __init__(self, model, env: dict, in_tensors: Mapping[str, Any], buffers: list):
        self.model = model
        self.plan = model.plan
        self.dev = model.device
        self.env = env
        self.in_tensors = in_tensors
        self.bufs = list(buffers)       # the pooled set; late entries None until first needed
        self.outs: list[Any] = [None] * len(self.plan["outputs"])
        self.cache: dict[str, Any] = {}
        self.unchecked = late_values(self.plan)
        self.limit = max_elements(model.max_elements)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.model._shape(self.plan["values"][name]["shape"], self.env)

    def output(self, pos: int):
        if self.outs[pos] is None:
            spec = self.plan["outputs"][pos]
            self.outs[pos] = self.dev.empty(spec["dtype"], self.model._shape(spec["shape"], self.env))
        return self.outs[pos]

    def tensor(self, name: str):
        t = self.cache.get(name)
        if t is not None:
            return t
        plan, dev = self.plan, self.dev
        info = plan["values"][name]
        shape = self.shape(name)
        if name in self.in_tensors:
            t = self.in_tensors[name]
        elif name in self.model._weights:
            t = self.model._weights[name]
        elif name in plan["in_output"]:
            t = self.output(plan["in_output"][name])
        elif name in plan["slices"]:
            sl = plan["slices"][name]
            t = dev.offset_view(self.tensor(sl["root"]), sizes.evaluate(sl["offset"], self.env))
        elif name in plan["alias_of"]:
            t = dev.reshape(self.tensor(plan["alias_of"][name]), shape)
        else:
            b = plan["placement"][name]
            if self.bufs[b] is None:        # a late buffer: its size is known now
                self.bufs[b] = dev.alloc(sizes.evaluate(plan["buffers"][b]["nbytes"], self.env))
            t = dev.view(self.bufs[b], info["dtype"], shape)
        self.cache[name] = t
        return t

    # -- steps ----------------------------------------------------------------------------------
    def launch(self, i: int, step: Mapping):
        """The ``Launch`` of kernel step ``i`` at the sizes bound now, or None when every value
        it writes is empty."""
        outs = step.get("outputs") or ()
        if outs and all(0 in self.shape(n) for n in outs):
            return None
        if hasattr(self.dev, "plan_step"):
            step = self.dev.plan_step(i, step)      # cpu: the launch's numpy function
        cfg = step["configs"][self.dev.family]
        genv = dict(self.env)
        genv.update({k: v for k, v in cfg.items() if isinstance(v, int)})
        grid = tuple(max(1, sizes.evaluate(g, genv)) for g in step["grid"])
        args = [self.tensor(a["value"]) if "value" in a else sizes.evaluate(a["size"], self.env)
                for a in step["args"]]
        return Launch(i, getattr(self.model._module, step["kernel"]), grid, args, cfg)

    def host(self, i: int, step: Mapping, stream) -> None:
        """Run host step ``i``: inputs to the host, the numpy op, symbols bound, results copied in."""
        model, dev = self.model, self.dev
        model._synchronize(stream)
        arrays = [None if n is None else model._snapshot(n, self.tensor(n), self.env, stream)
                  for n in step["inputs"]]
        try:
            if step["host"] in CONTROL:
                results = run_control(model, step, arrays, self._scan_shapes(step))
            else:
                results = run_host_op(step["host"], step.get("attrs", {}), arrays)
        except CortadoError:
            raise
        except Exception as e:      # a numpy error on odd data: name the step, do not crash the caller
            raise InputError(f"host step {step['host']} ({', '.join(step.get('nodes', ()))}) failed: {e}") from e
        if len(results) != len(step["outputs"]):
            raise ArtifactError(f"host step {i} ({step['host']}) gives {len(results)} results, the plan expects "
                                f"{len(step['outputs'])}")
        for sym, pos, axis in step.get("binds", ()):
            r = results[pos]
            if not 0 <= axis < r.ndim:
                raise ArtifactError(f"host step {i} binds {sym} to axis {axis} of a rank-{r.ndim} result")
            self.env[sym] = int(r.shape[axis])
        self._check_limits()
        for name, r in zip(step["outputs"], results):
            want = self.shape(name)
            if tuple(r.shape) != want:
                raise ArtifactError(f"host step {i} ({step['host']}) produced {name!r} of shape {tuple(r.shape)}, "
                                    f"but the plan declares {want}", hint="re-save the artifact from the compiler")
            r = np.ascontiguousarray(r, dtype=numpy_dtype(self.plan["values"][name]["dtype"]))
            if r.size == 0:
                continue
            t = self.tensor(name)
            if hasattr(dev, "copy_from_host"):
                dev.copy_from_host(t, r, stream or 0)
            else:
                dev.copy(t, dev.from_host(r), stream)
        model._synchronize(stream)

    def _scan_shapes(self, step: Mapping) -> list:
        """A Loop's scan outputs' element shapes where the sizes known now determine them."""
        if step["host"] != "Loop":
            return []
        out = []
        for name in step["outputs"][step["attrs"]["carried"]:]:
            try:
                out.append(tuple(sizes.evaluate(d, self.env) for d in self.plan["values"][name]["shape"][1:]))
            except CortadoError:
                out.append(None)
        return out

    def _check_limits(self) -> None:
        """Every value whose run-time sizes are all bound now, against the element limit."""
        for name, syms in list(self.unchecked.items()):
            if syms <= self.env.keys():
                check_elements(self.shape(name), f"value {name!r}", self.limit)
                del self.unchecked[name]


def run_segments(model, arrays: Mapping[str, np.ndarray], env: Mapping[str, int], outputs: str,
                 wanted: set[str]) -> dict[str, Any]:
    """``CompiledModel.run`` for a plan with host steps (see the module docstring)."""
    dev = model.device
    kept: dict[str, np.ndarray] = {}
    key = tuple(env.get(k) for k in model._env_keys)
    with model._pool.borrow(key) as bufset:
        stream = bufset.stream
        call = _Call(model, dict(env), {name: dev.from_host(a) for name, a in arrays.items()}, bufset.buffers)
        try:
            pending: list = []
            for i, step in enumerate(model.plan["steps"]):
                if "host" in step:
                    model.execute(pending, [], stream)
                    pending = []
                    call.host(i, step, stream)
                else:
                    launch = call.launch(i, step)
                    if launch is not None:
                        pending.append(launch)
                if wanted:
                    model.execute(pending, [], stream)
                    pending = []
                    for name in step.get("outputs", ()):
                        if name in wanted:
                            kept[name] = model._snapshot(name, call.tensor(name), call.env, stream)
            model.execute(pending, [], stream)
            copies = [(call.output(pos), call.tensor(src)) for src, pos in model.plan["copies"]]
            model.execute([], copies, stream)
            out_tensors = [call.output(pos) for pos in range(len(call.outs))]
        finally:
            model._synchronize(stream)
        del call, copies, bufset, stream      # the set may be dropped for another size once it is back
    if wanted:
        kept.update(model._outputs(out_tensors, "host"))
        return kept
    return model._outputs(out_tensors, outputs)
