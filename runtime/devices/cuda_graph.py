"""Whole launch plans captured as CUDA graphs, one per size environment, each owning its memory.

A CUDA graph holds raw addresses, so everything it touches must outlive it: a
``CapturedPlan`` allocates its own inputs, outputs and planned intermediate buffers (never
the model's, which a run at another size replaces and frees) and keeps the bound launches,
and so those buffers, alive as long as the graph. It is captured only for the size
environment it was built at, and ``CudaGraphs`` keeps at most ``LIMIT`` of them, one per
environment, least recently used first out.

A replay copies the caller's inputs into the graph's inputs, launches the graph and copies
its outputs into fresh allocations, all on the legacy default stream, so that it is ordered
after any earlier ``from_host`` and before any later ``to_host`` without extra events, and
the caller's ``outputs="device"`` results are never overwritten by a later call. Replays of
one graph reuse its buffers, so a lock keeps one replay's enqueueing from interleaving with
another's; stream order does the rest.

Capture runs on a private non-blocking stream (the legacy stream cannot be captured, and a
blocking stream would depend on it implicitly), after one eager run of the same bound plan
that compiles and loads every kernel, so nothing but launches happens inside the capture.
"""

from __future__ import annotations

import threading
from collections import OrderedDict


LIMIT = 4


class CapturedPlan:
    def __init__(self, device, model, env):
        self.env = dict(env)
        self.device = device
        self._lock = threading.Lock()
        shape = model._shape
        self.output_specs = [(o["dtype"], shape(o["shape"], env)) for o in model.plan["outputs"]]
        self.inputs = {i["name"]: device.empty(i["dtype"], shape(i["shape"], env)) for i in model.plan["inputs"]}
        self.outputs = [device.empty(dtype, s) for dtype, s in self.output_specs]
        self.buffers = model.allocate_buffers(env)   # its own, alive as long as the graph
        # the bound launches hold the tensors (and through them the buffers) the graph uses
        self.launches, self.copies = model.bind(env, self.inputs, self.outputs, buffers=self.buffers)
        device.synchronize()                      # weights and earlier copies are complete
        model.execute(self.launches, self.copies)   # compiles and loads every kernel
        device.synchronize()
        self.graph = self.exec = None
        stream = device.create_stream()
        try:
            device._capturing = True
            device.begin_capture(stream)
            try:
                model.execute(self.launches, self.copies, stream=int(stream))
            finally:
                graph = device.end_capture(stream)
                device._capturing = False
            self.graph = graph
            self.exec = device.instantiate_graph(graph)
        finally:
            device.destroy_stream(stream)

    def replay(self, arrays) -> list:
        """Run the graph on ``arrays``; returns fresh device tensors holding the outputs."""
        dev = self.device
        outs = [dev.empty(dtype, s) for dtype, s in self.output_specs]
        with self._lock:
            for name, a in arrays.items():
                dev.copy_from_host(self.inputs[name], a, 0)
            dev.launch_graph(self.exec, 0)
            for dst, src in zip(outs, self.outputs):
                dev.copy(dst, src, 0)
        dev.stream_synchronize(0)
        return outs

    def close(self) -> None:
        with self._lock:
            if self.exec is not None or self.graph is not None:
                self.device.destroy_graph(self.graph, self.exec)
            self.graph = self.exec = None

    def __del__(self):
        try:
            self.close()
        except Exception:   # interpreter shutdown: the driver may already be gone
            pass


class CudaGraphs:
    """The CUDA graphs of one model: one per size environment, at most ``LIMIT``."""

    def __init__(self, device, limit: int = LIMIT):
        self.device = device
        self.limit = limit
        self._plans: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def run(self, model, arrays, env) -> list:
        key = tuple(sorted(env.items()))
        with self._lock:    # capture is rare and must not race another capture of the same sizes
            plan = self._plans.get(key)
            if plan is None:
                plan = self._plans[key] = CapturedPlan(self.device, model, env)
                while len(self._plans) > self.limit:   # released when its last replay is done
                    self._plans.popitem(last=False)
            else:
                self._plans.move_to_end(key)
        return plan.replay(arrays)

    def __len__(self) -> int:
        return len(self._plans)

    def close(self) -> None:
        with self._lock:
            for plan in self._plans.values():
                plan.close()
            self._plans.clear()
