"""The model replica in-process (no Ray cluster): dynamic batching concatenates concurrent
requests, splits the rows back to their callers, and keeps a bad request from failing the
others; model errors map to the protocol's statuses."""

import asyncio

import numpy as np
import pytest

pytest.importorskip("ray.serve", reason="cortado serve needs the serve extra: pip install -e '.[serve]'")

import cortado  # noqa: E402
from cortado.runtime.errors import ArtifactError, InputError  # noqa: E402
from cortado.runtime.serve import adapter  # noqa: E402
from tests.serve.tiny_model import build, reference  # noqa: E402


@pytest.fixture(autouse=True)
def outside_a_deployment(monkeypatch):
    """``@serve.batch`` reads the replica's config for a warning; there is none in-process."""
    from ray.serve import batching

    monkeypatch.setattr(batching._BatchQueue, "_warn_if_max_batch_size_exceeds_max_ongoing_requests",
                        lambda self: None)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    onnx_model = build()
    path = tmp_path_factory.mktemp("adapter") / "tiny.cortado"
    m = cortado.compile(onnx_model, target="interpreter")
    m.save(path)
    return onnx_model, str(path), {"inputs": m.inputs, "outputs": m.outputs}


def _feeds(rng, n):
    return {"x": rng.standard_normal((n, 4)).astype(np.float32), "y": rng.standard_normal((n, 3)).astype(np.float32)}


def _replica(artifact, **kw):
    _, path, io = artifact
    return adapter.ModelReplica("tiny", path, io, target="interpreter", **kw)


def test_concurrent_requests_are_batched_and_each_gets_its_rows(artifact, monkeypatch):
    onnx_model = artifact[0]
    replica = _replica(artifact, max_batch_size=8, batch_wait_ms=50)
    runs = []
    real = adapter._infer

    async def counting(r, feeds):
        runs.append(len(feeds["x"]))
        return await real(r, feeds)

    monkeypatch.setattr(adapter, "_infer", counting)
    rng = np.random.default_rng(0)
    requests = [_feeds(rng, n) for n in (1, 2, 1, 3, 1)]

    async def go():
        return await asyncio.gather(*[replica.infer(f) for f in requests])

    results = asyncio.run(go())
    assert max(runs) > 1 and len(runs) < len(requests), runs       # batches formed
    assert sum(runs) == sum(len(f["x"]) for f in requests) and max(runs) <= 8
    for f, r in zip(requests, results):
        want = reference(onnx_model, f)
        for name in ("z", "s"):
            np.testing.assert_allclose(r["outputs"][name], want[name], rtol=1e-5, atol=1e-5)


def test_a_request_the_model_refuses_does_not_fail_its_batch(artifact, monkeypatch):
    onnx_model = artifact[0]
    replica = _replica(artifact, max_batch_size=8, batch_wait_ms=50)
    rng = np.random.default_rng(1)
    good = [_feeds(rng, 1), _feeds(rng, 2)]
    real = adapter._infer

    async def picky(r, feeds):                   # the model refuses any run that holds a NaN
        if np.isnan(feeds["x"]).any():
            raise InputError("input 'x' holds NaN")
        return await real(r, feeds)

    monkeypatch.setattr(adapter, "_infer", picky)
    bad = _feeds(rng, 1)
    bad["x"][0, 0] = np.nan

    async def go():
        return await asyncio.gather(replica.infer(good[0]), replica.infer(bad), replica.infer(good[1]))

    r0, rb, r1 = asyncio.run(go())
    assert rb == {"error": (400, "input 'x' holds NaN")}
    for f, r in ((good[0], r0), (good[1], r1)):
        np.testing.assert_allclose(r["outputs"]["z"], reference(onnx_model, f)["z"], rtol=1e-5, atol=1e-5)


def test_batching_off_runs_each_request_alone(artifact, monkeypatch):
    replica = _replica(artifact, max_batch_size=1)
    runs = []
    real = adapter._infer

    async def counting(r, feeds):
        runs.append(len(feeds["x"]))
        return await real(r, feeds)

    monkeypatch.setattr(adapter, "_infer", counting)
    rng = np.random.default_rng(2)

    async def go():
        return await asyncio.gather(*[replica.infer(_feeds(rng, 2)) for _ in range(3)])

    asyncio.run(go())
    assert runs == [2, 2, 2]


def test_failure_statuses():
    assert adapter.failure(InputError("bad shape")) == {"error": (400, "bad shape")}
    assert adapter.failure(ArtifactError("kernels missing")) == {"error": (500, "model error: kernels missing")}
    status, message = adapter.failure(ZeroDivisionError("x"))["error"]
    assert status == 500 and "ZeroDivisionError" in message
