"""One error shape for every failure, and the one set of handlers that produces it.

Domain errors (service.errors.ServiceError) carry their status; model store errors are mapped
here, because the store knows nothing of HTTP; werkzeug's own errors keep theirs.
"""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.exceptions import HTTPException

from model_store import CorruptArtifact, InvalidName, ModelNotFound, StoreError, VersionNotFound

from ..errors import ModelUnavailable, NotFound, ServiceError
from .jsonio import json_response
from .logs import request_id

log = logging.getLogger("service.web.errors")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(ServiceError):
    """An error of the HTTP exchange itself (content type, token, method), with its status."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, details: list | None = None
    ):
        super().__init__(message, status=status, code=code or CODES.get(status, "error"))
        self.details = details or []


def from_store(exc: StoreError) -> ServiceError:
    """Map a model store failure to a domain error with its status."""
    if isinstance(exc, InvalidName | ModelNotFound | VersionNotFound):
        return NotFound(str(exc))
    if isinstance(exc, CorruptArtifact):
        return ModelUnavailable(str(exc))
    return ServiceError("model store error")


def error_response(err: ServiceError):
    body = {
        "error": err.message,
        "code": err.code,
        "details": err.details,
        "request_id": request_id(),
    }
    return json_response(body, err.status)


def register(app: Flask) -> None:
    """Install the handlers that turn every exception into the one error shape."""

    @app.errorhandler(ServiceError)
    def _service(err: ServiceError):
        return error_response(err)

    @app.errorhandler(StoreError)
    def _store(exc: StoreError):
        return error_response(from_store(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        message = exc.description if status != 405 else "method not allowed for this URL"
        if status == 413:
            message = f"request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        response = error_response(ApiError(status, message))
        if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(ApiError(500, "internal server error"))
