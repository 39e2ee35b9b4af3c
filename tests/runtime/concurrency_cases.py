"""Shared by the concurrency stress tests (interpreter here, cuda in ``tests/gpu``).

``small_cnn()`` is a CNN with a dynamic batch whose memory plan reuses intermediate buffers
(so two calls sharing them corrupt each other), small enough that Triton's interpreter runs
it in a fraction of a second. ``hammer()`` calls one model from many threads at once, each
call with its own random input of a random batch size, and compares every output with
onnxruntime's answer for that input.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cortado.testing.reference import TOLERANCES, run_onnxruntime

IMAGE = (3, 8, 8)


def small_cnn(seed: int = 0) -> onnx.ModelProto:
    """conv3x3(4)+Relu -> conv3x3/2(6)+Relu -> GlobalAveragePool -> Gemm(5) -> Softmax."""
    rng = np.random.default_rng(seed)

    def init(name, *shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.5).astype(np.float32), name)

    inits = [init("w1", 4, 3, 3, 3), init("b1", 4), init("w2", 6, 4, 3, 3), init("b2", 6),
             init("fc_w", 5, 6), init("fc_b", 5)]
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], transB=1, name="fc"),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1, name="softmax"),
    ]
    graph = helper.make_graph(nodes, "small_cnn",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", *IMAGE])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 5])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@dataclass
class Outcome:
    """What ``hammer`` saw: every call is exactly one of right, wrong or an error."""

    right: int = 0
    wrong: int = 0
    max_error: float = 0.0
    errors: list = field(default_factory=list)

    def summary(self) -> str:
        kinds = sorted({f"{type(e).__name__}: {str(e).splitlines()[0][:80]}" for e in self.errors})
        return (f"{self.right} right, {self.wrong} wrong (max error {self.max_error:.3g}), "
                f"{len(self.errors)} raised {kinds}")


def cases(model: onnx.ModelProto, threads: int, calls: int, batches=(1, 2, 3), seed: int = 1):
    """Per thread, ``calls`` (input, onnxruntime output) pairs of random batch sizes."""
    rng = np.random.default_rng(seed)
    plan = []
    for _ in range(threads):
        mine = []
        for _ in range(calls):
            x = rng.standard_normal((int(rng.choice(batches)), *IMAGE)).astype(np.float32)
            mine.append((x, run_onnxruntime(model, {"image": x})[0]))
        plan.append(mine)
    return plan


def hammer(get_model: Callable[[], object], plan, *, call=None, timeout: float = 300) -> Outcome:
    """Run every thread's cases at once (a barrier starts them together) on the model that
    ``get_model()`` returns (called in each thread, after the barrier, so a lazily loaded
    model's first calls race with its loading). ``call(model, x)`` returns the output as
    numpy (default ``model.run({"image": x})["probs"]``)."""
    call = call or (lambda m, x: m.run({"image": x})["probs"])
    rtol, atol = TOLERANCES["float32"]
    barrier = threading.Barrier(len(plan))
    out = Outcome()
    lock = threading.Lock()

    def worker(mine):
        barrier.wait()
        try:
            model = get_model()
        except Exception as e:          # a failed load fails every call of this thread
            with lock:
                out.errors.extend([e] * len(mine))
            return
        for x, ref in mine:
            try:
                got = np.asarray(call(model, x))
            except Exception as e:      # counted: the test's assertion lists every kind
                with lock:
                    out.errors.append(e)
                continue
            ok = got.shape == ref.shape and np.allclose(got, ref, rtol=rtol, atol=atol)
            err = float(np.max(np.abs(got - ref))) if got.shape == ref.shape else float("inf")
            with lock:
                out.right += ok
                out.wrong += not ok
                out.max_error = max(out.max_error, err)

    workers = [threading.Thread(target=worker, args=(mine,), daemon=True) for mine in plan]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout)
    assert not any(t.is_alive() for t in workers), f"calls still running after {timeout}s: a hang"
    return out
