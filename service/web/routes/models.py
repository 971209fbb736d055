"""Model listing, model cards, and promotion or rollback."""

from flask import Blueprint
from pydantic import ValidationError

from model_store import ModelNotFound, StoreError, validate_name

from ..errors import from_validation
from ..http import json_body, registry, require_token, settings, store, version
from ..jsonio import json_response
from ..schemas import PromoteRequest

bp = Blueprint("models", __name__)


def _current(name: str) -> int | None:
    try:
        return store().current_version(name)
    except StoreError:
        return None


@bp.get("/models")
def list_models():
    reg = registry()
    out = []
    for name in store().list_models():
        serving = reg.current.get(name)
        out.append(
            {
                "name": name,
                "current_version": _current(name),
                "versions": store().versions(name),
                "serving_version": serving.version if serving else None,
                "error": reg.errors.get(name),
            }
        )
    return json_response({"models": out, "default_model": settings().default_model})


def _card(name: str, v: int | None):
    reg = registry()
    predictor = reg.get(name, v)
    card = predictor.card()
    card["current_version"] = _current(name)
    card["load_error"] = reg.errors.get(name)
    return json_response(card)


@bp.get("/models/<name>")
def model_card(name: str):
    return _card(name, None)


@bp.get("/models/<name>/versions/<v>")
def version_card(name: str, v: str):
    return _card(name, version(v))


@bp.put("/models/<name>/current")
def set_current(name: str):
    require_token()
    validate_name(name)  # before any lookup; the 404 does not echo it
    try:
        body = PromoteRequest.model_validate_json(json_body())
    except ValidationError as exc:
        raise from_validation(exc) from None
    if name not in store().list_models():
        raise ModelNotFound(f"model {name!r} not found")
    previous = _current(name)
    store().set_current(name, body.version)
    registry().refresh()
    return json_response({"name": name, "current_version": body.version, "previous": previous})
