"""The request id: carried through the WSGI environ, added to every log line of a request."""

from __future__ import annotations

from flask import has_request_context, request

from .. import logs

REQUEST_ID_KEY = "nns.request_id"  # the environ key that carries the request id into Flask


def request_id() -> str:
    """Return the current request's id ("" outside a request)."""
    return request.environ.get(REQUEST_ID_KEY, "") if has_request_context() else ""


def _context() -> dict:
    rid = request_id()
    return {"request_id": rid} if rid else {}


logs.add_context(_context)
configure = logs.configure
