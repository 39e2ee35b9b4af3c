"""The concurrency API around ``run``: ``run_async``, loading once, launch errors, the pool bound."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

import cortado
from cortado import runtime
from cortado.errors import CortadoError, KernelLaunchError
from cortado.runtime import CompiledModel
from cortado.testing.reference import assert_close, run_onnxruntime

from concurrency_cases import cases, hammer, small_cnn


@pytest.fixture(scope="module")
def onnx_model():
    return small_cnn()


@pytest.fixture(scope="module")
def compiled(onnx_model):
    return cortado.compile(onnx_model, target="interpreter")


def test_run_async_keeps_the_event_loop_serving(compiled, onnx_model):
    """Four awaited runs at once all give the right answer, and while they compute the event
    loop keeps running other coroutines (a ticker), as a server's loop must."""
    plan = cases(onnx_model, threads=4, calls=1, seed=3)

    async def main():
        ticks = 0
        done = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        tick_task = asyncio.create_task(ticker())
        t0 = time.perf_counter()
        results = await asyncio.gather(*(compiled.run_async({"image": x}) for (x, _), in plan))
        seconds = time.perf_counter() - t0
        done.set()
        await tick_task
        return results, ticks, seconds

    results, ticks, seconds = asyncio.run(main())
    for got, ((x, ref),) in zip(results, plan):
        assert_close(got["probs"], ref)
    # a loop blocked by the runs would tick once or twice in all; serving, it ticks every 5 ms
    # or so (loosely: the machine may be busy)
    assert ticks >= max(4, seconds / 0.005 / 20), f"{ticks} ticks in {seconds:.2f}s: the loop was blocked"


def test_run_async_raises_what_run_raises(compiled):
    with pytest.raises(CortadoError, match="expects dtype float32"):
        asyncio.run(compiled.run_async({"image": np.ones((1, 3, 8, 8), np.float64)}))


def test_kernels_and_weights_load_once_under_a_race(compiled, onnx_model, tmp_path, monkeypatch):
    """Eight threads make the first calls of a freshly loaded artifact at once: one loads."""
    loaded = runtime.load(compiled.save(tmp_path / "m.cortado"), target="interpreter")
    dev = loaded.device
    loads, uploads = [], []
    load_kernels, from_host = dev.load_kernels, dev.from_host

    def slow_load(source):
        loads.append(threading.get_ident())
        time.sleep(0.2)                 # widen the window in which others could load too
        return load_kernels(source)

    def counting_from_host(a):
        uploads.append(id(a))
        return from_host(a)

    monkeypatch.setattr(dev, "load_kernels", slow_load)
    monkeypatch.setattr(dev, "from_host", counting_from_host)
    out = hammer(lambda: loaded, cases(onnx_model, threads=8, calls=1, seed=4))
    assert out.right == 8, out.summary()
    assert len(loads) == 1
    weight_ids = {id(a) for a in loaded.constants.values()}
    assert sum(u in weight_ids for u in uploads) == len(weight_ids), "each weight uploaded once"


def _sabotaged(model: CompiledModel) -> tuple[CompiledModel, dict]:
    """The model with its last kernel made to fail inside the interpreter."""
    step = model.plan["steps"][-1]
    src = model.source
    start = src.index(f"def {step['kernel']}(")
    body = src.index('"""', src.index('"""', start) + 3) + 3        # after the kernel's docstring
    bad = src[:body] + "\n    tl.arange(0, 3)   # not a power of 2: the interpreter raises" + src[body:]
    return CompiledModel(model.plan, bad, model.constants, target="interpreter"), step


def test_a_failing_launch_names_the_kernel_and_its_nodes(compiled):
    broken, step = _sabotaged(compiled)
    x = np.ones((2, 3, 8, 8), np.float32)
    with pytest.raises(KernelLaunchError) as info:
        broken.run({"image": x})
    err = info.value
    assert isinstance(err, CortadoError)
    assert err.kernel == step["kernel"] and err.nodes == step["nodes"] and step["nodes"]
    text = str(err)
    assert step["kernel"] in text and all(n in text for n in step["nodes"])
    assert "power of 2" in text and "InterpreterError" not in text
    assert type(err.__cause__).__name__ == "InterpreterError", "the Triton error stays the cause"
    assert broken._pool.taken == 0, "the failed call gave its buffers back"
    (ref,) = run_onnxruntime(small_cnn(), {"image": x})
    assert_close(compiled.run({"image": x})["probs"], ref)      # the interpreter lock was released


def test_failing_launches_from_many_threads_are_all_launch_errors(compiled, onnx_model):
    broken, _ = _sabotaged(compiled)
    out = hammer(lambda: broken, cases(onnx_model, threads=4, calls=1, seed=5))
    assert out.right == 0 and out.wrong == 0
    assert len(out.errors) == 4 and all(isinstance(e, KernelLaunchError) for e in out.errors), out.summary()


def test_memory_does_not_grow_with_threads(compiled, onnx_model):
    """Room for two sets: eight threads with mixed batch sizes never have more than two."""
    m = CompiledModel(compiled.plan, compiled.source, compiled.constants, target="interpreter", max_buffer_sets=2)
    assert m.max_buffer_sets == 2
    alive, peak = [0], [0]
    lock = threading.Lock()
    make = m._pool._allocate

    class Tracked(list):
        def __del__(self):
            with lock:
                alive[0] -= 1

    def tracked(key):
        bufset = make(key)
        bufset.buffers = Tracked(bufset.buffers)
        with lock:
            alive[0] += 1
            peak[0] = max(peak[0], alive[0])
        return bufset

    m._pool._allocate = tracked
    out = hammer(lambda: m, cases(onnx_model, threads=8, calls=1, seed=6))
    assert out.right == 8, out.summary()
    assert 1 <= peak[0] <= 2
