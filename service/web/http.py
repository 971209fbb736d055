"""Small helpers the route modules share: the registry, settings, content type and versions."""

from __future__ import annotations

from flask import Response, current_app, request
from pydantic import BaseModel

from model_store import InvalidName, ModelStore, parse_version

from ..serving.registry import Registry
from ..settings import Settings
from .errors import ApiError


def registry() -> Registry:
    return current_app.extensions["nns.registry"]


def store() -> ModelStore:
    return registry().store


def settings() -> Settings:
    return current_app.extensions["nns.settings"]


def json_body() -> bytes:
    """Return the raw body of a JSON request; 415 for any other content type."""
    # The raw header first: parsing it into a mimetype costs a few microseconds per request.
    kind = request.environ.get("CONTENT_TYPE", "")
    if kind != "application/json" and request.mimetype != "application/json":
        raise ApiError(415, "Content-Type must be application/json")
    return request.get_data(cache=False)


def path_version(text: str) -> int:
    """Parse a version from a URL; 404 when it is not a positive integer."""
    try:
        return parse_version(text)
    except InvalidName:
        raise ApiError(404, "version must be a positive integer") from None


def respond(model: BaseModel, status: int = 200, headers: dict | None = None) -> Response:
    """Return a response whose body is the pydantic model that documents it."""
    body = model.model_dump_json()
    return Response(body, status=status, headers=headers, mimetype="application/json")
