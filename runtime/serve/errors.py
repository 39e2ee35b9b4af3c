"""Protocol errors: each carries the HTTP status and gRPC code the Open Inference Protocol
gives it, and a one-line message naming the field at fault."""

from __future__ import annotations

from cortado.runtime.errors import CortadoError

# HTTP status -> gRPC status code name (grpc.StatusCode member), as Triton maps them
GRPC_CODES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 500: "INTERNAL",
              503: "UNAVAILABLE"}


class ProtocolError(CortadoError):
    """A request the server refuses; ``status`` is its HTTP status code."""

    status = 500

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def grpc_code(self) -> str:
        return GRPC_CODES.get(self.status, "INTERNAL")


class BadRequest(ProtocolError):
    """Malformed or mismatched request (400)."""

    status = 400


class Unauthorized(ProtocolError):
    """Missing or wrong bearer token (401)."""

    status = 401


class ModelNotFound(ProtocolError):
    """No model of that name is served (404)."""

    status = 404


class ModelFailed(ProtocolError):
    """The model raised while running a well-formed request (500)."""

    status = 500
