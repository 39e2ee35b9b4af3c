"""The CUDA-graph path of ``CompiledModel.run`` under many threads, without a GPU.

A captured graph replays into fixed addresses: its inputs, intermediates and outputs are one
set of buffers shared by every replay. ``ReplayDevice`` is the interpreter device with the
hooks the cuda device has — ``capture_graph`` (here a plan bound once to buffers of its own,
replayed by launching it again), per-call streams and ``enter_thread`` — so the model's
locking of capture and replay, its copying out of replayed outputs, and the streams lent
with buffer sets are exercised here; ``tests/gpu`` runs the same on a real GPU.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import cortado
from cortado.runtime import CompiledModel
from cortado.runtime.devices.interpreter import InterpreterDevice

from concurrency_cases import cases, hammer, small_cnn


class ReplayPlan:
    """Bound once to buffers it owns (through the model's ``allocate_buffers`` hook), as a
    captured CUDA graph is; ``replay`` copies the inputs in and runs the same launches."""

    def __init__(self, device, model, env):
        self.env = dict(env)
        self.model = model
        self.inputs = {i["name"]: device.empty(i["dtype"], model._shape(i["shape"], env)) for i in model.plan["inputs"]}
        self.outputs = [device.empty(o["dtype"], model._shape(o["shape"], env)) for o in model.plan["outputs"]]
        self.buffers = model.allocate_buffers(env)
        self.launches, self.copies = model.bind(env, self.inputs, self.outputs, buffers=self.buffers)
        self.replays = 0

    def replay(self, arrays):
        for name, a in arrays.items():
            np.copyto(self.inputs[name].array, a)
        time.sleep(0.002)             # a replay takes a while: overlapping ones would collide
        self.model.execute(self.launches, self.copies)
        self.replays += 1
        return self.outputs


class Stream:
    def __init__(self, n):
        self.n = n

    def __int__(self):
        return self.n


class ReplayDevice(InterpreterDevice):
    def __init__(self):
        self.captures: list[ReplayPlan] = []
        self.streams = 0
        self.synced: list[int] = []
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def capture_graph(self, model, env):
        plan = ReplayPlan(self, model, env)
        self.captures.append(plan)
        return plan

    def enter_thread(self):
        self.threads.add(threading.get_ident())

    def new_stream(self):
        with self._lock:
            self.streams += 1
            return Stream(1000 + self.streams)

    def sync_stream(self, stream):
        assert isinstance(stream, int) and stream > 1000
        self.synced.append(stream)

    def to_host(self, t):
        return t.array.copy()        # as on cuda: a host copy, not the device memory itself

    def copy(self, dst, src, stream=None):
        if dst.array.shape != src.array.shape:       # replayed outputs copied to fresh tensors
            return super().copy(dst, src, stream)
        np.copyto(dst.array, src.array)


@pytest.fixture(scope="module")
def onnx_model():
    return small_cnn()


@pytest.fixture(scope="module")
def compiled(onnx_model):
    return cortado.compile(onnx_model, target="interpreter")


def _graph_model(compiled):
    m = CompiledModel(compiled.plan, compiled.source, compiled.constants, target="interpreter")
    m.device = ReplayDevice()
    return m.use_cuda_graph()


@pytest.mark.parametrize("outputs", ["host", "device"])
def test_replays_from_many_threads(compiled, onnx_model, outputs):
    m = _graph_model(compiled)
    m.run({"image": np.zeros((2, 3, 8, 8), np.float32)})      # captures batch 2
    dev = m.device
    assert len(dev.captures) == 1 and dev.captures[0].env == {"N": 2}
    plan = cases(onnx_model, threads=5, calls=2, batches=(2, 2, 1), seed=7)
    held = []

    def call(model, x):
        got = model.run({"image": x}, outputs=outputs)["probs"]
        held.append((got, x))
        return got.array if outputs == "device" else got

    out = hammer(lambda: m, plan, call=call)
    assert out.right == 10, out.summary()
    assert dev.captures[0].replays >= 1, "batch 2 went through the graph"
    assert len(dev.captures) == 1, "captured once"
    refs = {id(x): ref for mine in plan for x, ref in mine}
    for t, x in held:          # read long after: no later replay wrote into a caller's result
        host = t.array if outputs == "device" else t
        np.testing.assert_allclose(host, refs[id(x)], rtol=1e-3, atol=1e-4)
        assert all(not np.shares_memory(host, o.array) for o in dev.captures[0].outputs)


def test_first_calls_race_to_capture_once(compiled, onnx_model):
    m = _graph_model(compiled)
    out = hammer(lambda: m, cases(onnx_model, threads=5, calls=1, batches=(2,), seed=8))
    assert out.right == 5, out.summary()
    assert len(m.device.captures) == 1


def test_streams_come_with_buffer_sets(compiled, onnx_model):
    m = _graph_model(compiled).use_cuda_graph(False)
    out = hammer(lambda: m, cases(onnx_model, threads=5, calls=2, batches=(2,), seed=9))
    assert out.right == 10, out.summary()
    dev = m.device
    assert 1 <= dev.streams <= m.max_buffer_sets, "one stream per buffer set, not per call"
    assert len(dev.synced) == 10, "every call waited for its own stream before giving its buffers back"
    assert len(dev.threads) == 5, "every calling thread entered the device"
