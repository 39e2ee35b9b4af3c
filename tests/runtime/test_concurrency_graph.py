"""Per-call streams and thread entry of ``CompiledModel.run`` under many threads, without a GPU.

``StreamDevice`` is the interpreter device with the hooks the cuda device has for many
callers — per-call streams lent with buffer sets, and ``enter_thread`` — so the model's use of
them is exercised here. CUDA-graph capture and replay under many threads run on the simulated
GPU (``test_cuda_runtime_simulated.py``), with the cuda device's own graph code.
"""

from __future__ import annotations

import threading

import pytest

import cortado
from cortado.runtime import CompiledModel
from cortado.runtime.devices.interpreter import InterpreterDevice

from concurrency_cases import cases, hammer, small_cnn


class Stream:
    def __init__(self, n):
        self.n = n

    def __int__(self):
        return self.n


class StreamDevice(InterpreterDevice):
    def __init__(self):
        self.streams = 0
        self.synced: list[int] = []
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def enter_thread(self):
        self.threads.add(threading.get_ident())

    def new_stream(self):
        with self._lock:
            self.streams += 1
            return Stream(1000 + self.streams)

    def sync_stream(self, stream):
        assert isinstance(stream, int) and stream > 1000
        self.synced.append(stream)


@pytest.fixture(scope="module")
def onnx_model():
    return small_cnn()


@pytest.fixture(scope="module")
def compiled(onnx_model):
    return cortado.compile(onnx_model, target="interpreter")


def _stream_model(compiled):
    m = CompiledModel(compiled.plan, compiled.source, compiled.constants, target="interpreter")
    m.device = StreamDevice()
    return m


def test_streams_come_with_buffer_sets(compiled, onnx_model):
    m = _stream_model(compiled)
    out = hammer(lambda: m, cases(onnx_model, threads=5, calls=2, batches=(2,), seed=9))
    assert out.right == 10, out.summary()
    dev = m.device
    assert 1 <= dev.streams <= m.max_buffer_sets, "one stream per buffer set, not per call"
    assert len(dev.synced) == 10, "every call waited for its own stream before giving its buffers back"
    assert len(dev.threads) == 5, "every calling thread entered the device"
