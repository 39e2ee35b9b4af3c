"""The ingress: the Open Inference Protocol's endpoints, mapped onto the model replicas.

Ray Serve's HTTP proxy hands every HTTP request to ``__call__`` (a Starlette request), and its
gRPC proxy calls the method named like the RPC (``ModelInfer``, ...) with the decoded message.
Both decode, check the request against the model's signature (so a bad request never reaches
a replica), call the model's replicas through their Serve handle, and encode the answer.

    GET  /v2/health/live  /v2/health/ready                     200 (no token needed: probes)
    GET  /v2                                                   server metadata
    GET  /v2/models/{name}[/versions/{v}]                      model metadata
    GET  /v2/models/{name}[/versions/{v}]/ready                200, or 404
    POST /v2/models/{name}[/versions/{v}]/infer                JSON or binary tensors

Errors are ``{"error": "..."}`` with the protocol's status (gRPC: the matching status code).
With an API key, every other request needs ``Authorization: Bearer KEY`` (gRPC metadata
``authorization``), else 401.
"""

from __future__ import annotations

import hmac
import json
import logging
import time

from . import grpc_codec, http_codec
from .errors import BadRequest, ModelFailed, ModelNotFound, ProtocolError, Unauthorized
from .tensors import InferRequest, ModelSignature

log = logging.getLogger("ray.serve")
SERVER = {"name": "cortado", "version": "0.1.0", "extensions": ["binary_tensor_data"]}


class Ingress:
    def __init__(self, models: dict, signatures: dict, api_key: str | None = None):
        self.handles = models                                   # name -> DeploymentHandle
        self.signatures = {n: ModelSignature.from_manifest(n, io, limit) for n, (io, limit) in signatures.items()}
        self.api_key = api_key
        grpc_codec.pb()             # the proxy's pickled messages name their module: make it importable

    # -- shared ----------------------------------------------------------------------------------
    def _signature(self, name: str) -> ModelSignature:
        sig = self.signatures.get(name)
        if sig is None:
            raise ModelNotFound(f"unknown model {name!r}; this server has "
                                f"{', '.join(map(repr, sorted(self.signatures)))}")
        return sig

    def _authorize(self, header: str | None) -> None:
        if self.api_key is None:
            return
        want = f"Bearer {self.api_key}".encode()
        if not header or not hmac.compare_digest(header.encode(), want):
            raise Unauthorized("missing or wrong API key; send the header 'Authorization: Bearer KEY'")

    async def _run(self, req: InferRequest) -> dict:
        try:
            result = await self.handles[req.model].infer.remote(req.inputs)
        except Exception as e:          # a replica died mid-request, or Ray refused: the server's fault
            log.warning("cortado serve: model %r request failed in Ray: %s", req.model, e)
            raise ProtocolError(f"model {req.model!r} is unavailable ({type(e).__name__}); retry",
                                status=503) from None
        if "error" in result:
            status, message = result["error"]
            raise (BadRequest(message) if status == 400 else ModelFailed(message, status=status))
        return result["outputs"]

    # -- HTTP ------------------------------------------------------------------------------------
    async def __call__(self, request):
        from starlette.responses import Response

        t0 = time.perf_counter()
        try:
            body, status, headers = await self._http(request)
        except ProtocolError as e:
            body, status, headers = json.dumps({"error": e.message}).encode(), e.status, {}
        except Exception as e:
            log.exception("cortado serve: unexpected error")
            body, status, headers = json.dumps({"error": f"internal error: {type(e).__name__}: {e}"}).encode(), 500, {}
        headers.setdefault("content-type", "application/json")
        log.info("%s %s %d %.1fms", request.method, request.url.path, status, (time.perf_counter() - t0) * 1000)
        return Response(body, status_code=status, headers=headers)

    async def _http(self, request) -> tuple[bytes, int, dict]:
        parts = [p for p in request.url.path.split("/") if p]
        method = request.method
        if parts[:2] == ["v2", "health"] and len(parts) == 3 and parts[2] in ("live", "ready"):
            _allow(method, "GET")
            return b"", 200, {}
        self._authorize(request.headers.get("authorization"))
        if parts == ["v2"]:
            _allow(method, "GET")
            return json.dumps(SERVER).encode(), 200, {}
        if len(parts) < 3 or parts[:2] != ["v2", "models"]:
            raise ProtocolError(f"no endpoint {request.url.path}; see /v2/models/NAME", status=404)
        sig = self._signature(parts[2])
        rest = parts[3:]
        if rest[:1] == ["versions"] and len(rest) >= 2:
            if rest[1] != "1":
                raise ModelNotFound(f"model {sig.name!r} has only version 1, not {rest[1]!r}")
            rest = rest[2:]
        if not rest:
            _allow(method, "GET")
            return json.dumps(sig.metadata()).encode(), 200, {}
        if rest == ["ready"]:
            _allow(method, "GET")
            return b"", 200, {}
        if rest == ["infer"]:
            _allow(method, "POST")
            body = await request.body()
            req = http_codec.decode_request(body, request.headers.get(http_codec.HEADER), sig)
            outputs = await self._run(req)
            body, headers = http_codec.encode_response(req, outputs, sig)
            return body, 200, headers
        raise ProtocolError(f"no endpoint {request.url.path}", status=404)

    # -- gRPC: inference.GRPCInferenceService ----------------------------------------------------
    async def _grpc(self, context, work):
        try:
            md = dict(context.invocation_metadata()) if context is not None else {}
            self._authorize(md.get("authorization"))
            return await work()
        except ProtocolError as e:
            return _grpc_error(context, e)
        except Exception as e:
            log.exception("cortado serve: unexpected gRPC error")
            return _grpc_error(context, ProtocolError(f"internal error: {type(e).__name__}: {e}"))

    async def ServerLive(self, request, grpc_context=None):
        return grpc_codec.pb().ServerLiveResponse(live=True)

    async def ServerReady(self, request, grpc_context=None):
        return grpc_codec.pb().ServerReadyResponse(ready=True)

    async def ServerMetadata(self, request, grpc_context=None):
        async def work():
            return grpc_codec.pb().ServerMetadataResponse(**SERVER)
        return await self._grpc(grpc_context, work)

    async def ModelReady(self, request, grpc_context=None):
        async def work():
            self._signature(request.name)
            return grpc_codec.pb().ModelReadyResponse(ready=True)
        return await self._grpc(grpc_context, work)

    async def ModelMetadata(self, request, grpc_context=None):
        async def work():
            return grpc_codec.metadata_response(self._signature(request.name))
        return await self._grpc(grpc_context, work)

    async def ModelInfer(self, request, grpc_context=None):
        async def work():
            sig = self._signature(request.model_name)
            req = grpc_codec.decode_request(request, sig)
            return grpc_codec.encode_response(req, await self._run(req), sig)
        return await self._grpc(grpc_context, work)


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise ProtocolError(f"{method} is not allowed here; use {allowed}", status=405)


def _grpc_error(context, e: ProtocolError):
    """Set the status on Ray Serve's gRPC context and return an empty message (Ray Serve's way
    for a method to answer with an error code)."""
    import grpc

    if context is not None:
        context.set_code(getattr(grpc.StatusCode, e.grpc_code))
        context.set_details(e.message)
    return grpc_codec.pb().ModelInferResponse()
