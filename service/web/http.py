"""Small helpers the route modules share: the registry, content type, token and version checks."""

from __future__ import annotations

import hmac

from flask import current_app, request

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
    if request.mimetype != "application/json":
        raise ApiError(415, "Content-Type must be application/json")
    return request.get_data(cache=False)


def version(text: str) -> int:
    """Parse a version from a URL; 404 when it is not a positive integer."""
    try:
        return parse_version(text)
    except InvalidName:
        raise ApiError(404, "version must be a positive integer") from None


def require_token() -> None:
    """Allow only requests bearing the admin token, compared in constant time."""
    expected = settings().token
    if not expected:
        raise ApiError(
            503,
            "admin endpoints are disabled: set NNS_ADMIN_TOKEN to enable them",
            code="admin_disabled",
        )
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    ok = scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )
    if not ok:
        raise ApiError(401, "missing or wrong bearer token")
