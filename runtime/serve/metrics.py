"""Per-model Prometheus metrics, exported by Ray next to Ray Serve's own ``ray_serve_*``.

Ray's metrics agent on every node serves them at ``http://NODE:METRICS_PORT/metrics``
(``cortado serve --metrics-port``, for the local Ray instance it starts); Ray prefixes each
name with ``ray_``:

    ray_cortado_requests_total{model, code}      requests answered, by HTTP status code
    ray_cortado_batch_rows{model}                rows per model run (> 1: batching happened)
    ray_cortado_request_latency_ms{model}        time in the replica, queueing included
"""

from __future__ import annotations

import logging

ROW_BUCKETS = [1, 2, 3, 4, 6, 8, 12, 16, 32, 64, 128]
LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]

log = logging.getLogger("cortado.serve")


class ModelMetrics:
    """The metrics one replica records for one model; never lets a metrics failure fail a
    request."""

    def __init__(self, model: str):
        self.model = model
        try:
            self._create()
        except Exception:                # outside a Ray worker (tests, local use): no metrics
            log.debug("metrics: unavailable", exc_info=True)
            self.requests = self.rows = self.latency = None

    def _create(self) -> None:
        from ray.util import metrics

        self.requests = metrics.Counter("cortado_requests_total", "inference requests answered, by status code",
                                        tag_keys=("model", "code"))
        self.rows = metrics.Histogram("cortado_batch_rows", "rows per model run (dynamic batching)",
                                      boundaries=ROW_BUCKETS, tag_keys=("model",))
        self.latency = metrics.Histogram("cortado_request_latency_ms", "request latency inside the replica",
                                         boundaries=LATENCY_BUCKETS_MS, tag_keys=("model",))

    def request(self, code: int, ms: float) -> None:
        try:
            self.requests.inc(1, tags={"model": self.model, "code": str(code)})
            self.latency.observe(ms, tags={"model": self.model})
        except Exception:            # metrics are best-effort by design
            log.debug("metrics: cannot record a request", exc_info=True)

    def batch(self, rows: int) -> None:
        try:
            self.rows.observe(rows, tags={"model": self.model})
        except Exception:
            log.debug("metrics: cannot record a batch", exc_info=True)
