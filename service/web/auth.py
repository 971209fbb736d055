"""The admin token: `admin_required` both enforces it and marks the operation as secured."""

from __future__ import annotations

import functools
import hmac

from flask import current_app, request

from .errors import ApiError

SECURED = "nns_secured"  # the attribute the OpenAPI generator and the tests read


def require_token() -> None:
    """Allow only requests bearing the admin token, compared in constant time."""
    expected = current_app.extensions["nns.settings"].token
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


def admin_required(view):
    """Refuse the view to requests without the admin token; mark it secured in the document."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        require_token()
        return view(*args, **kwargs)

    setattr(guarded, SECURED, True)
    return guarded


def is_secured(view) -> bool:
    return getattr(view, SECURED, False)
