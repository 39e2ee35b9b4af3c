"""A whole launch plan captured as one CUDA graph, replayed for fixed input sizes.

Capture needs fixed addresses, so the plan is bound once to buffers owned by the capture
(inputs and outputs included); a replay copies the caller's inputs in, launches the graph
and hands back the output buffers' contents. Every kernel has run once before capture (the
model's first run), so no JIT compile happens inside it.
"""

from __future__ import annotations

from .cuda import _check


class CapturedPlan:
    def __init__(self, device, model, env):
        from cuda.bindings import driver as cu

        self.env = dict(env)
        self.device = device
        shape = model._shape
        self.inputs = {i["name"]: device.empty(i["dtype"], shape(i["shape"], env)) for i in model.plan["inputs"]}
        self.outputs = [device.empty(o["dtype"], shape(o["shape"], env)) for o in model.plan["outputs"]]
        # intermediate buffers of its own, kept as long as the graph that replays into them
        self.buffers = model.allocate_buffers(env)
        launches, copies = model.bind(env, self.inputs, self.outputs, buffers=self.buffers)
        (self.stream,) = _check(cu.cuStreamCreate(cu.CUstream_flags.CU_STREAM_NON_BLOCKING.value))
        stream = int(self.stream)
        _check(cu.cuStreamBeginCapture(self.stream, cu.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL))
        try:
            model.execute(launches, copies, stream=stream)
        finally:
            (graph,) = _check(cu.cuStreamEndCapture(self.stream))
        (self.exec,) = _check(cu.cuGraphInstantiate(graph, 0))
        self.graph = graph

    def replay(self, arrays):
        from cuda.bindings import driver as cu

        stream = int(self.stream)
        for name, a in arrays.items():
            self.device.copy_from_host(self.inputs[name], a, stream)
        _check(cu.cuGraphLaunch(self.exec, self.stream))
        _check(cu.cuStreamSynchronize(self.stream))
        return self.outputs
