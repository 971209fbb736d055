"""Domain errors that carry their own HTTP status, as MLServer's do; service.web maps them once.

Serving, training and job code raise these (never an HTTP type); the web layer turns every one
into the one error shape. `details` lists located problems: {"loc": [...], "msg", "type"}.
"""

from __future__ import annotations

from pydantic import ValidationError


class ServiceError(Exception):
    """A failure a client can be told about: a message, a status and located details."""

    status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: list[dict] | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class BadRequest(ServiceError):
    """The request cannot be read: broken JSON, or a protocol envelope that is wrong."""

    status, code = 400, "bad_request"


class InvalidInput(ServiceError):
    """The request is readable but its content is invalid."""

    status, code = 422, "validation_error"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class Unavailable(ServiceError):
    """Something the request needs is not ready or not reachable; retrying later may work."""

    status, code = 503, "unavailable"


class ModelUnavailable(Unavailable):
    code = "model_unavailable"


def problem(loc: list, msg: str, kind: str = "value_error") -> dict:
    """Return one located problem in the shape of the error body's `details`."""
    return {"loc": list(loc), "msg": msg, "type": kind}


def invalid(problems: list[dict], status: int = 422) -> InvalidInput:
    """Return an InvalidInput for located problems; the message joins their distinct texts."""
    message = "; ".join(dict.fromkeys(p["msg"] for p in problems))
    return InvalidInput(message, details=problems, status=status)


def validation_details(exc: ValidationError, strip: int = 0) -> list[dict]:
    """Return pydantic's errors without the submitted values; drop `strip` leading loc parts."""
    return [
        problem(e["loc"][strip:], e["msg"], e["type"])
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def from_validation(exc: ValidationError, strip: int = 0) -> BadRequest | InvalidInput:
    """Map a pydantic failure on a raw body: broken JSON is a BadRequest, bad content invalid."""
    details = validation_details(exc, strip)
    if any(d["type"] == "json_invalid" for d in details):
        return BadRequest("request body is not valid JSON", details=details)
    n = len(details)
    return InvalidInput(f"{n} invalid field{'s' if n != 1 else ''}", details=details)
