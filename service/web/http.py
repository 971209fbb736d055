"""Small helpers the route modules share: the registry, settings, content type and versions."""

from __future__ import annotations

from flask import Response, current_app, request
from pydantic import BaseModel
from werkzeug.exceptions import RequestEntityTooLarge

from model_store import InvalidName, Store, StoreError, parse_version

from ..errors import NotFound
from ..serving.registry import Registry
from ..settings import Settings
from .errors import ApiError


def registry() -> Registry:
    return current_app.extensions["nns.registry"]


def store() -> Store:
    return registry().store


def settings() -> Settings:
    return current_app.extensions["nns.settings"]


def current_version(name: str) -> int | None:
    """Return the model's CURRENT version in the store, None when it has none (or no model)."""
    try:
        return store().current_version(name)
    except StoreError:
        return None


def default_model(configured: str | None, served) -> str:
    """Return the model POST /predict uses: NNS_DEFAULT_MODEL, else the store's only model."""
    if configured is not None:
        return configured
    names = sorted(served)
    if len(names) == 1:
        return names[0]
    found = f"the store has {', '.join(names)}" if names else "the store has no model"
    raise NotFound(
        f"POST /predict has no model: NNS_DEFAULT_MODEL is unset and {found}; use "
        "POST /models/{name}/predict or set NNS_DEFAULT_MODEL"
    )


def json_body() -> bytes:
    """Return the raw body of a JSON request; 415 for any other content type."""
    environ = request.environ
    # The raw header first: parsing it into a mimetype costs a few microseconds per request.
    if environ.get("CONTENT_TYPE") != "application/json" and request.mimetype != "application/json":
        raise ApiError(415, "Content-Type must be application/json")
    return read_body(environ)


def read_body(environ: dict) -> bytes:
    """Read the whole request body: 413 over the size limit, 400 when it cannot be read.

    Straight from the WSGI input: werkzeug's stream wrappers cost more than the read, and a
    malformed chunked body (a bad chunk size, a missing terminator) must be the client's 400,
    not an unhandled exception from the server's reader.
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    try:
        if length:
            size = int(length)
            if size > limit:
                raise RequestEntityTooLarge()
            data = stream.read(size) if size > 0 else b""
        elif (
            environ.get("wsgi.input_terminated")
            or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        ):
            data = stream.read(limit + 1)  # chunked: the server ends the stream
            if len(data) > limit:
                raise RequestEntityTooLarge()
        else:
            data = b""  # neither a length nor chunks: no body
    except RequestEntityTooLarge:
        raise
    except Exception:  # any failure to read the body is the client's malformed request
        raise ApiError(400, "the request body could not be read (malformed chunks?)") from None
    return data


def path_version(text: str) -> int:
    """Parse a version from a URL; 404 when it is not a positive integer."""
    try:
        return parse_version(text)
    except InvalidName:
        raise ApiError(404, "version must be a positive integer") from None


def respond(model: BaseModel, status: int = 200, headers: dict | None = None) -> Response:
    """Return a response whose body is the pydantic model that documents it."""
    body = model.model_dump_json()
    return Response(body, status=status, headers=headers, content_type="application/json")
