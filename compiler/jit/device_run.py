"""Run a compiled model on tensors that already live on the device (DLPack inputs on cuda).

``CompiledModel.run`` takes numpy arrays, copies them to the device and copies results back.
For framework tensors that already sit on the GPU that is two needless copies, so this runner
executes the same launch plan with the inputs' own device pointers and leaves the outputs on
the device. It reads only the plan's public data and the device interface, so it runs on any
device the runtime has: the suite checks it against ``CompiledModel.run`` on the interpreter.
"""

from __future__ import annotations

from typing import Any, Mapping

from runtime import sizes
from runtime.model import CompiledModel

__all__ = ["DeviceRunner"]


class DeviceRunner:
    """Per-model state kept between calls: the loaded kernels and the weights on the device."""

    def __init__(self, model: CompiledModel, device):
        self.model = model
        self.dev = device
        self._module = None
        self._weights: dict[str, Any] | None = None

    def bind(self, shapes: Mapping[str, tuple]) -> dict[str, int]:
        env: dict[str, int] = {}
        for spec in self.model.plan["inputs"]:
            for d, got in zip(spec["shape"], shapes[spec["name"]]):
                if isinstance(d, str) and d.isidentifier():
                    env.setdefault(d, int(got))
        return env

    def run(self, tensors: Mapping[str, Any], shapes: Mapping[str, tuple]) -> list:
        """Launch every kernel on ``tensors`` (input name -> device tensor); returns the output
        tensors, allocated on the device, in the model's output order."""
        plan, dev = self.model.plan, self.dev
        env = self.bind(shapes)
        if self._module is None:
            self._module = dev.load_kernels(self.model.source)
        if self._weights is None:
            self._weights = {name: dev.from_host(a) for name, a in self.model.constants.items()}
        values = plan["values"]
        bufs = [dev.alloc(sizes.evaluate(b["nbytes"], env)) for b in plan["buffers"]]
        outs = [dev.empty(o["dtype"], tuple(sizes.evaluate(d, env) for d in o["shape"])) for o in plan["outputs"]]
        cache: dict[str, Any] = {}

        def resolve(name: str):
            t = cache.get(name)
            if t is not None:
                return t
            shape = tuple(sizes.evaluate(d, env) for d in values[name]["shape"])
            if name in tensors:
                t = tensors[name]
            elif name in self._weights:
                t = self._weights[name]
            elif name in plan["in_output"]:
                t = outs[plan["in_output"][name]]
            elif name in plan["slices"]:
                s = plan["slices"][name]
                t = dev.offset_view(resolve(s["root"]), sizes.evaluate(s["offset"], env))
            elif name in plan["alias_of"]:
                t = dev.reshape(resolve(plan["alias_of"][name]), shape)
            else:
                t = dev.view(bufs[plan["placement"][name]], values[name]["dtype"], shape)
            cache[name] = t
            return t

        for step in plan["steps"]:
            cfg = step["configs"][dev.family]
            genv = dict(env)
            genv.update({k: v for k, v in cfg.items() if isinstance(v, int)})
            grid = tuple(max(1, sizes.evaluate(g, genv)) for g in step["grid"])
            args = [resolve(a["value"]) if "value" in a else sizes.evaluate(a["size"], env) for a in step["args"]]
            constexprs = {k: v for k, v in cfg.items() if k not in ("num_warps", "num_stages")}
            dev.launch(getattr(self._module, step["kernel"]), grid, args, constexprs,
                       cfg.get("num_warps", 4), cfg.get("num_stages", 1))
        for src, pos in plan["copies"]:
            dev.copy(outs[pos], resolve(src))
        dev.synchronize()
        return outs
