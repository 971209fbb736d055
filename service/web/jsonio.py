"""JSON responses: bodies encoded with orjson (service.serving.jsonio)."""

from __future__ import annotations

from flask import Response

from ..serving.jsonio import dumps


def json_response(obj, status: int = 200, headers: dict | None = None) -> Response:
    """Return `obj` as an application/json response."""
    return Response(dumps(obj), status=status, headers=headers, content_type="application/json")
