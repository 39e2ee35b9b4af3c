"""``cortado serve``: compiled models behind the Open Inference Protocol, on Ray Serve.

Ray Serve is the engine (replicas, dynamic batching with ``@serve.batch``, scale-out onto a
Ray cluster); this package is the model adapter and the protocol mapping:

    errors.py       protocol errors with their HTTP status and gRPC code
    tensors.py      the KServe v2 datatypes, a model's signature, request checks
    http_codec.py   HTTP/REST JSON bodies and the binary tensor extension
    grpc_codec.py   inference.GRPCInferenceService messages (tritonclient's generated stubs)
    adapter.py      the model replica: loads an artifact, batches, runs it
    ingress.py      the one ingress: routes HTTP paths and gRPC methods to model replicas
    metrics.py      per-model Prometheus metrics (next to Ray Serve's own)
    app.py          builds the Serve application and runs it until SIGINT/SIGTERM
    local.py        starts ``cortado serve`` as a child process (tests, benchmarks, notebooks)

It imports only ``cortado.runtime`` (a serving machine needs no compiler), and ray, starlette
and grpc only here, never from ``cortado.runtime`` itself: ``pip install 'cortado[serve]'``.
"""
