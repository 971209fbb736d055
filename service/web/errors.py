"""One error shape for every failure, and the handlers that produce it."""

from __future__ import annotations

import logging

from flask import Flask, g
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from model_store import CorruptArtifact, InvalidName, ModelNotFound, StoreError, VersionNotFound

from .jsonio import json_response

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


class ApiError(Exception):
    """An error with its HTTP status; `details` lists the offending fields."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, details: list | None = None
    ):
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or CODES.get(status, "error")
        self.details = details or []


def pydantic_details(exc: ValidationError, strip: int = 0) -> list[dict]:
    """Return the errors without the submitted values; drop `strip` leading loc parts."""
    return [
        {"loc": list(e["loc"][strip:]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def from_validation(exc: ValidationError, strip: int = 0) -> ApiError:
    """Map a pydantic failure on a raw body: broken JSON is 400, bad content 422."""
    details = pydantic_details(exc, strip)
    if any(d["type"] == "json_invalid" for d in details):
        return ApiError(400, "request body is not valid JSON", details=details)
    n = len(details)
    return ApiError(422, f"{n} invalid field{'s' if n != 1 else ''}", details=details)


def from_store(exc: StoreError) -> ApiError:
    """Map a model store failure to its status."""
    if isinstance(exc, InvalidName | ModelNotFound | VersionNotFound):
        return ApiError(404, str(exc))
    if isinstance(exc, CorruptArtifact):
        return ApiError(503, str(exc), code="model_unavailable")
    return ApiError(500, "model store error")


def error_response(err: ApiError):
    body = {
        "error": err.message,
        "code": err.code,
        "details": err.details,
        "request_id": g.get("request_id", ""),
    }
    return json_response(body, err.status)


def register(app: Flask) -> None:
    """Install the handlers that turn every exception into the one error shape."""

    @app.errorhandler(ApiError)
    def _api(err: ApiError):
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
