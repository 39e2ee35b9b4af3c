"""The model replica: one loaded artifact, its dynamic batching, and the one call into it.

Ray Serve runs ``--replicas`` copies of ``ModelReplica`` per model and routes requests to
them; ``@serve.batch`` gathers the requests that reach one replica within ``--batch-wait-ms``
(counting rows, up to ``--max-batch-size``). Requests whose non-batch dims agree are
concatenated along the batch dim, run once and split back, so each caller gets exactly its
own rows; a batch that fails is retried request by request, so one bad request never fails
its neighbours. Models whose inputs and outputs do not all start with one symbolic dim are
never concatenated.

A replica answers with a plain dict -- ``{"outputs": {...}}`` or ``{"error": (status,
message)}`` -- rather than raising, so errors cross the process boundary intact.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from ray import serve

from cortado.runtime.dtypes import numpy_dtype
from cortado.runtime.errors import CortadoError, InputError, ResourceLimitError, ShapeError

from .errors import ProtocolError
from .metrics import ModelMetrics
from .tensors import ModelSignature, rows

log = logging.getLogger("ray.serve")

REQUEST_ERRORS = (InputError, ShapeError, ResourceLimitError)   # the caller's inputs: 400


def failure(e: BaseException) -> dict:
    """The reply for an exception: 400 for inputs the model cannot take, 500 with the
    ``CortadoError`` message for a model error, 500 naming the type for anything else."""
    if isinstance(e, ProtocolError):
        return {"error": (e.status, e.message)}
    if isinstance(e, REQUEST_ERRORS):
        return {"error": (400, e.message)}
    if isinstance(e, CortadoError):
        return {"error": (500, f"model error: {e.message}")}
    log.exception("cortado serve: unexpected error while running a model")
    return {"error": (500, f"internal error: {type(e).__name__}: {e}")}


async def _infer(replica: "ModelReplica", feeds: dict) -> dict:
    """The one place a served model is called. ``CompiledModel.run_async`` runs the call in a
    worker thread with buffers of its own, so the event loop keeps accepting and batching
    requests meanwhile, and several batches may run at once; whatever cannot run concurrently
    is serialized inside the runtime."""
    return await replica.model.run_async(feeds)


def _batch_rows(items: list) -> int:
    return sum(rows(feeds) for feeds in items)


def _group_key(feeds: dict) -> tuple:
    return tuple((name, a.shape[1:], a.dtype.str) for name, a in sorted(feeds.items()))


class ModelReplica:
    """One replica of one served model (wrapped by ``serve.deployment`` in ``app.py``)."""

    def __init__(self, name: str, artifact: str, manifest_io: dict, *, target: str = "auto",
                 trusted_keys=None, max_batch_size: int = 8, batch_wait_ms: float = 5.0,
                 max_elements: int | None = None, warmup: bool = True):
        from cortado import runtime

        self.name = name
        self.signature = ModelSignature.from_manifest(name, manifest_io, max_elements)
        self.model = runtime.load(artifact, target=target, trusted_keys=trusted_keys)
        self.model.max_elements = max_elements
        self.max_batch_size = max(1, int(max_batch_size))
        self.batching = self.max_batch_size > 1 and self.signature.batch_symbol is not None
        # one batch queue per replica object (decorating the bound method), sized by rows
        self._run_batch = serve.batch(max_batch_size=self.max_batch_size,
                                      batch_wait_timeout_s=max(0.0, batch_wait_ms) / 1000,
                                      batch_size_fn=_batch_rows)(self._batch)
        self.metrics = ModelMetrics(name)
        if warmup:
            self._warm_up()
        log.info("cortado serve: model %r loaded from %s on %s (batching %s)", name, artifact,
                 self.model.target, f"up to {self.max_batch_size} rows" if self.batching else "off")

    def _warm_up(self) -> None:
        """Import the kernels and run once before the replica reports ready, so the first caller
        does not pay for it. A model that refuses ones as input still serves real requests."""
        feeds = {t.name: np.ones([d if isinstance(d, int) else 1 for d in t.dims], numpy_dtype(t.dtype))
                 for t in self.signature.inputs}
        try:
            self.model.run(feeds)
        except CortadoError as e:
            log.warning("cortado serve: warm-up run of %r failed (%s); serving anyway", self.name, e.message)

    async def infer(self, feeds: dict) -> dict:
        """Outputs for one request's inputs (already checked against the signature)."""
        t0 = time.perf_counter()
        try:
            if self.batching and rows(feeds) <= self.max_batch_size:
                result = await self._run_batch(feeds)
            else:
                result = await self._run(feeds)
        except Exception as e:
            result = failure(e)
        code = 200 if "outputs" in result else result["error"][0]
        self.metrics.request(code, (time.perf_counter() - t0) * 1000)
        return result

    async def _batch(self, items: list) -> list:
        """``@serve.batch``'s handler: the requests gathered in one wait, answered in order."""
        groups: dict[tuple, list[int]] = {}
        for i, feeds in enumerate(items):
            groups.setdefault(_group_key(feeds), []).append(i)
        results: list = [None] * len(items)
        for idx in groups.values():
            for i, r in zip(idx, await self._run_split([items[i] for i in idx])):
                results[i] = r
        return results

    async def _run_split(self, group: list) -> list:
        if len(group) > 1:
            try:
                return await self._run_concat(group)
            except Exception:          # one bad request must not fail the others: run each alone
                pass
        return [await self._run(feeds) for feeds in group]

    async def _run_concat(self, group: list) -> list:
        counts = [rows(f) for f in group]
        feeds = {name: np.concatenate([f[name] for f in group]) for name in group[0]}
        outs = await _infer(self, feeds)
        self.metrics.batch(sum(counts))
        edges = np.cumsum([0] + counts)
        return [{"outputs": {n: np.ascontiguousarray(a[lo:hi]) for n, a in outs.items()}}
                for lo, hi in zip(edges[:-1], edges[1:])]

    async def _run(self, feeds: dict) -> dict:
        try:
            outs = await _infer(self, feeds)
        except Exception as e:
            return failure(e)
        self.metrics.batch(rows(feeds))
        return {"outputs": outs}
