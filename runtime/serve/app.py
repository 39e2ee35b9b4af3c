"""Build the Ray Serve application for a set of artifacts, and run it until a signal.

One application, ``cortado``: an ``Ingress`` deployment (the protocol's endpoints, HTTP and
gRPC) and one ``ModelReplica`` deployment per model with ``replicas`` copies. With no Ray
address this starts a local Ray instance; with one (``--address`` or ``$RAY_ADDRESS``) it
deploys onto that cluster, where every node must have cortado installed and read the
artifact paths (a shared store).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass

from .grpc_codec import SERVICER

APP = "cortado"
log = logging.getLogger("cortado.serve")


@dataclass
class ServedModel:
    name: str
    artifact: str                      # path every replica loads
    io: dict                           # {"inputs": [...], "outputs": [...]} from the manifest
    trusted_keys: list | None = None   # None: we built it here, or no signatures are required


@dataclass
class ServeOptions:
    host: str = "0.0.0.0"
    port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    replicas: int = 1
    max_batch_size: int = 8
    batch_wait_ms: float = 5.0
    target: str = "auto"
    address: str | None = None
    api_key: str | None = None
    max_elements: int | None = None
    num_cpus: float | None = None         # of the local Ray instance
    object_store_mb: int = 256            # of the local Ray instance
    drain_s: float = 10.0
    request_timeout_s: float = 120.0      # end to end, by Ray's proxies: no request waits forever


def build_app(models: list[ServedModel], opts: ServeOptions):
    """The bound Serve application (not yet running)."""
    from ray import serve

    from .adapter import ModelReplica
    from .ingress import Ingress

    gpus = 1.0 / max(1, opts.replicas) if opts.target == "cuda" else 0
    handles, signatures = {}, {}
    for m in models:
        deployment = serve.deployment(
            ModelReplica, name=f"model-{m.name}", num_replicas=opts.replicas,
            max_ongoing_requests=max(16, 4 * opts.max_batch_size),
            graceful_shutdown_timeout_s=opts.drain_s, health_check_period_s=2, health_check_timeout_s=60,
            ray_actor_options={"num_cpus": 0.25, "num_gpus": gpus},
            logging_config={"encoding": "JSON"})
        handles[m.name] = deployment.bind(
            m.name, m.artifact, m.io, target=opts.target, trusted_keys=m.trusted_keys,
            max_batch_size=opts.max_batch_size, batch_wait_ms=opts.batch_wait_ms, max_elements=opts.max_elements)
        signatures[m.name] = (m.io, opts.max_elements)
    ingress = serve.deployment(Ingress, name="ingress", num_replicas=1, max_ongoing_requests=1000,
                               graceful_shutdown_timeout_s=opts.drain_s,
                               ray_actor_options={"num_cpus": 0.1}, logging_config={"encoding": "JSON"})
    return ingress.bind(handles, signatures, opts.api_key)


def start(models: list[ServedModel], opts: ServeOptions, *, announce=print) -> bool:
    """Start (or join) Ray, start Serve's HTTP and gRPC proxies and deploy; returns whether a
    local Ray instance was started here."""
    import ray
    from ray import serve

    address = opts.address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    else:
        ray.init(num_cpus=opts.num_cpus, object_store_memory=opts.object_store_mb * 2**20,
                 include_dashboard=False, _metrics_export_port=opts.metrics_port,
                 _system_config={"metrics_report_interval_ms": 2000},
                 logging_level=logging.WARNING, log_to_driver=False)
    serve.start(http_options={"host": opts.host, "port": opts.port, "request_timeout_s": opts.request_timeout_s},
                grpc_options={"port": opts.grpc_port, "grpc_servicer_functions": [SERVICER],
                              "request_timeout_s": opts.request_timeout_s})
    serve.run(build_app(models, opts), name=APP, route_prefix="/", blocking=False)
    names = ", ".join(m.name for m in models)
    announce(f"serving {names} on http://{opts.host}:{opts.port} (gRPC :{opts.grpc_port}"
             + (f", metrics :{opts.metrics_port}/metrics" if not address else "") + ")", flush=True)
    return not address


def stop(local: bool) -> None:
    """Drain and stop: Serve lets in-flight requests finish (``graceful_shutdown_timeout_s``)
    before replicas exit. A local Ray instance goes entirely (the ports are free after);
    on a cluster only this application is deleted."""
    import ray
    from ray import serve

    try:
        if local:
            serve.shutdown()
        else:
            serve.delete(APP)
    finally:
        ray.shutdown()


def serve_until_signal(models: list[ServedModel], opts: ServeOptions, *, announce=print) -> int:
    """Run until SIGINT or SIGTERM; returns 0 after a clean shutdown."""
    stop_event = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop_event.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    local = not (opts.address or os.environ.get("RAY_ADDRESS"))
    try:
        start(models, opts, announce=announce)
        if not stop_event.is_set():
            for s in previous:                      # Ray may have installed its own handlers
                signal.signal(s, lambda *_: stop_event.set())
        while not stop_event.wait(0.5):
            pass
        announce("shutting down: draining in-flight requests", flush=True)
    finally:
        import ray

        if ray.is_initialized():
            stop(local)
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
