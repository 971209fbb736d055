"""Liveness and readiness."""

from flask import Blueprint

from ..http import registry, settings
from ..jsonio import json_response

bp = Blueprint("health", __name__)


@bp.get("/health/live")
def live():
    return json_response({"status": "ok"})


@bp.get("/health/ready")
def ready():
    status, body = readiness()
    return json_response(body, status)


def readiness() -> tuple[int, dict]:
    """Return 200 when every model (the default included) has a version to serve."""
    reg = registry()
    names = set(reg.current) | set(reg.errors) | {settings().default_model}
    models, problems = {}, []
    for name in sorted(names):
        predictor = reg.current.get(name)
        models[name] = {"serving_version": predictor.version if predictor else None}
        if name in reg.errors:
            problems.append(reg.errors[name])
        elif predictor is None:
            problems.append(f"model {name!r} is not in the store; train it first")
    if any(m["serving_version"] is None for m in models.values()):
        return 503, {"status": "unavailable", "models": models, "problems": problems}
    return 200, {"status": "degraded" if problems else "ok", "models": models, "problems": problems}
