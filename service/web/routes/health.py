"""Liveness and readiness."""

from flask import Blueprint

from ..http import registry, respond, settings
from ..openapi import describe
from ..schemas import Health, Live, ModelHealth

bp = Blueprint("health", __name__)


@bp.get("/health/live")
@describe("Liveness", {200: ("Process is up.", Live)})
def live():
    return respond(Live(status="ok"))


@bp.get("/health/ready")
@describe(
    "Readiness",
    {200: ("Every model has a version to serve.", Health), 503: ("A model has none.", Health)},
)
def ready():
    health = readiness()
    return respond(health, 503 if health.status == "unavailable" else 200)


def readiness() -> Health:
    """Return "ok" when every model (the default included) has a version to serve.

    The models are those with a CURRENT in the store (a store of never-promoted versions only
    has none yet), and NNS_DEFAULT_MODEL when it is set.
    """
    reg, default = registry(), settings().default_model
    names = set(reg.current) | set(reg.errors) | ({default} if default else set())
    if not names:
        problem = "the store has no model: train one (nns-train or POST /train)"
        return Health(status="unavailable", models={}, problems=[problem])
    models, problems = {}, []
    for name in sorted(names):
        predictor = reg.current.get(name)
        models[name] = ModelHealth(serving_version=predictor.version if predictor else None)
        if name in reg.errors:
            problems.append(reg.errors[name])
        elif predictor is None:
            problems.append(f"model {name!r} is not in the store; train it first")
    if any(m.serving_version is None for m in models.values()):
        return Health(status="unavailable", models=models, problems=problems)
    return Health(status="degraded" if problems else "ok", models=models, problems=problems)
