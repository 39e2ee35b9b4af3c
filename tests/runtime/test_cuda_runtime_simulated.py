"""The cuda runtime's code paths on a simulated GPU (``simulated_gpu.SimulatedGpu``): first
launch, direct launches, cubin adoption, CUDA graph capture and replay across batch changes,
device outputs and concurrent calls, each checked against onnxruntime."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import cortado
from cortado.runtime.launch import Launch
from cortado.testing.reference import assert_close, assert_close_to_scale, run_onnxruntime

from simulated_gpu import SimulatedFault, SimulatedGpu
from small_cnn import images, small_cnn


@pytest.fixture(scope="module")
def tiny():
    return small_cnn()


def check(model, onnx_model, x, got=None):
    got = model(x) if got is None else got
    assert_close(got, run_onnxruntime(onnx_model, {"image": x})[0])


def compiled(onnx_model, gpu=None):
    gpu = gpu or SimulatedGpu()
    return cortado.compile(onnx_model, target=gpu, allow_tf32=False), gpu


def test_first_and_second_call_use_jit_then_direct_launches(tiny):
    """The second call goes through the direct path, whose runner needs a 3-D grid: the small
    CNN's max pool, global average pool and softmax have 1-D grids."""
    m, gpu = compiled(tiny)
    assert m.target == "cuda" and m.device is gpu
    check(m, tiny, images(2, 0))
    compiles = gpu.compiles
    check(m, tiny, images(2, 1))
    assert gpu.compiles == compiles, "the second call compiled again instead of launching directly"
    assert len(gpu._direct) == len(m.plan["steps"])


def test_batch_changes_reuse_one_binary_per_kernel(tiny):
    """Batch 1 makes some size arguments equal to 1 and others divisible by 16; with sizes
    unspecialized, every batch runs the same binaries and stays correct."""
    m, gpu = compiled(tiny)
    for i, batch in enumerate([1, 16, 3, 1]):
        check(m, tiny, images(batch, i))
    assert gpu.compiles == len(m.plan["steps"])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_models_launch_directly_and_from_a_graph(tiny, dtype):
    """Half-precision buffers specialize as *fp16 / *bf16 pointers in Triton's key."""
    m = cortado.compile(tiny, target=SimulatedGpu(), dtype=dtype)
    x = images(2, 0)
    ref = run_onnxruntime(tiny, {"image": x})[0]
    assert_close_to_scale(m(x), ref, dtype=dtype)
    assert_close_to_scale(m.use_cuda_graph()(x), ref, dtype=dtype)
    assert_close_to_scale(m(x), ref, dtype=dtype)


def test_graph_replays_after_a_batch_change_in_its_own_buffers(tiny):
    """A run at another batch size used to free the buffers the graph was captured with; the
    replay then wrote into freed memory."""
    m, gpu = compiled(tiny)
    m.use_cuda_graph()
    x2, x3, y2 = images(2, 0), images(3, 1), images(2, 2)
    check(m, tiny, x2)           # run, capture
    check(m, tiny, y2)           # replay
    check(m, tiny, x3)           # another size: buffers replaced and freed
    check(m, tiny, x2)           # replay of the batch-2 graph
    assert "kernel" not in " ".join(gpu.log[-3:]) or gpu.graphs_live >= 1


def test_graph_device_outputs_are_not_overwritten_by_the_next_call(tiny):
    m, gpu = compiled(tiny)
    m.use_cuda_graph()
    a, b = images(2, 0), images(2, 1)
    m(a)                                               # capture
    out_a = m.run({"image": a}, outputs="device")["probs"]
    out_b = m.run({"image": b}, outputs="device")["probs"]
    check(m, tiny, a, got=gpu.to_host(out_a))
    check(m, tiny, b, got=gpu.to_host(out_b))


def test_an_empty_batch_launches_nothing_directly_or_in_a_graph(tiny):
    """A batch of 0 binds no launch (every output is empty), copies no bytes, and neither
    disturbs the runs around it, graph capture and replay included."""
    m, gpu = compiled(tiny)
    check(m, tiny, images(2, 0))
    before = len(gpu.log)
    check(m, tiny, images(0, 1))
    assert not any("kernel" in line for line in gpu.log[before:]), gpu.log[before:]
    m.use_cuda_graph()
    check(m, tiny, images(0, 2))
    check(m, tiny, images(2, 3))
    check(m, tiny, images(0, 4))
    check(m, tiny, images(2, 5))


def test_direct_launch_key_follows_tritons_specialization():
    """A kernel that lets Triton specialize its size argument (n == 1 becomes a constant,
    n % 16 == 0 an assumption) must not reuse that binary for other values."""
    gpu = SimulatedGpu()
    mod = gpu.load_kernels(ADD_ONE)
    x = gpu.from_host(np.arange(64, dtype=np.float32))
    for step_n in ([1, 40], [16, 40], [40, 1]):
        for n in step_n:
            y = gpu.from_host(np.full(64, -7.0, np.float32))
            gpu.launch(Launch(0, mod.add_one, (1,), [x, y, n], {"BLOCK": 64, "num_warps": 1, "num_stages": 1}))
            got = gpu.to_host(y)
            np.testing.assert_array_equal(got[:n], np.arange(n, dtype=np.float32) + 1)
            assert (got[n:] == -7.0).all()


def test_unaligned_pointer_after_aligned_one_gets_its_own_binary():
    gpu = SimulatedGpu()
    mod = gpu.load_kernels(ADD_ONE)
    base = gpu.from_host(np.arange(65, dtype=np.float32))
    for x in (gpu.offset_view(base, 0), gpu.offset_view(base, 1)):
        y = gpu.from_host(np.zeros(64, np.float32))
        gpu.launch(Launch(0, mod.add_one, (1, 1, 1), [x, y, 64], {"BLOCK": 64, "num_warps": 1, "num_stages": 1}))
        np.testing.assert_array_equal(gpu.to_host(y), gpu.to_host(x)[:64] + 1)


@pytest.mark.parametrize("graph", [False, True])
def test_concurrent_calls_from_many_threads(tiny, graph):
    """Calls from threads that never opened the device (a server's workers), with and without a
    CUDA graph, each get their own correct result; the first calls race with loading the
    kernels and weights, and with capturing the graphs of two batch sizes."""
    m, gpu = compiled(tiny)
    if graph:
        m.use_cuda_graph()
    xs = [images(2 if i % 2 else 3, 10 + i) for i in range(6)]
    refs = [run_onnxruntime(tiny, {"image": x})[0] for x in xs]
    results, errors = {}, []

    def call(i):
        try:
            results[i] = m(xs[i])
        except Exception as e:   # reported below with its thread
            errors.append((i, e))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, ref in enumerate(refs):
        assert_close(results[i], ref, what=f"thread {i} (graph={graph})")


def test_artifact_cubins_are_adopted_and_launched(tiny, tmp_path):
    """Cubins of the device's architecture are launched with no JIT compile: the argument
    packing (non-constexpr arguments plus two null scratch pointers) is checked per launch."""
    m, _ = compiled(tiny)
    entries, files = [], {}
    for k in m.plan["kernels"]:
        for step in m.plan["steps"]:
            if step["kernel"] != k["name"]:
                continue
            cfg = json.dumps(step["configs"]["cuda"], sort_keys=True)
            name = f"{k['name']}.cubin"
            files[("sm_90", name)] = b"\x7fELF simulated"
            entries.append({"kernel": k["name"], "config": cfg, "arch": "sm_90", "file": name,
                            "meta": {"name": k["name"], "num_warps": step["configs"]["cuda"]["num_warps"], "shared": 0}})
    gpu = SimulatedGpu(arch="sm_90")
    loaded = cortado.runtime.CompiledModel(m.plan, m.source, m.constants, target=gpu, cubins=files, cubin_index=entries)
    for i, batch in enumerate([2, 2, 5]):
        check(loaded, tiny, images(batch, i))
    assert len(gpu._cubins) == len(m.plan["steps"])
    assert gpu.compiles == 0, "a step with a cubin went through the JIT"


def test_the_simulation_catches_what_a_gpu_would_corrupt():
    gpu = SimulatedGpu()
    mod = gpu.load_kernels(ADD_ONE)
    x = gpu.from_host(np.arange(64, dtype=np.float32))
    small = gpu.empty("float32", (8,))
    with pytest.raises(SimulatedFault, match="outside the block"):   # a write past the end
        gpu.launch(Launch(0, mod.add_one, (1,), [x, small, 64], {"BLOCK": 64, "num_warps": 1, "num_stages": 1}))
        gpu.synchronize()
    gpu = SimulatedGpu()
    mod = gpu.load_kernels(ADD_ONE)
    x = gpu.from_host(np.arange(64, dtype=np.float32))
    y = gpu.empty("float32", (64,))
    ptr = y.ptr
    del y                                                            # freed
    from cortado.runtime.devices.cuda import DeviceTensor

    with pytest.raises(SimulatedFault, match="FREED"):
        gpu.launch(Launch(0, mod.add_one, (1,), [x, DeviceTensor(ptr, np.float32, (64,)), 64],
                          {"BLOCK": 64, "num_warps": 1, "num_stages": 1}))
        gpu.synchronize()


ADD_ONE = '''
import triton
import triton.language as tl


@triton.jit
def add_one(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    o = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = o < n
    tl.store(y_ptr + o, tl.load(x_ptr + o, mask=m) + 1.0, mask=m)
'''
