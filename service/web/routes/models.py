"""Model listing, model cards, a version as an ONNX file, and promotion or rollback."""

from flask import Blueprint, Response
from pydantic import ValidationError

from model_store import StoreError, validate_name

from ...errors import NotFound, from_validation
from ...serving.export import exporter
from ...training.metadata import ModelMeta
from ..auth import admin_required
from ..http import (
    current_version,
    default_model,
    json_body,
    path_version,
    registry,
    respond,
    settings,
    store,
)
from ..openapi import describe
from ..schemas import (
    ModelCard,
    ModelList,
    ModelSummary,
    PromoteRequest,
    PromoteResponse,
    VersionList,
    VersionSummary,
)

bp = Blueprint("models", __name__)


def model_list() -> ModelList:
    """Return every model in the store (GET /models; the dashboard shows the same)."""
    reg = registry()
    out = []
    for name in store().list_models():
        serving = reg.current.get(name)
        summary = ModelSummary(
            name=name,
            current_version=current_version(name),
            versions=store().versions(name),
            serving_version=serving.version if serving else None,
            error=reg.errors.get(name),
        )
        out.append(summary)
    try:
        default = default_model(settings().default_model, registry().current)
    except NotFound:
        default = None  # several models and no NNS_DEFAULT_MODEL: POST /predict says so
    return ModelList(models=out, default_model=default)


@bp.get("/models")
@describe("List models", {200: ("Models.", ModelList)})
def list_models():
    return respond(model_list())


def card(name: str, v: int | None) -> ModelCard:
    """Return the card of a version (None: the served current one)."""
    reg = registry()
    meta = reg.get(name, v).meta
    return ModelCard.of(meta, current_version(name), reg.errors.get(name))


@bp.get("/models/<name>")
@describe("Model card of the current version", {200: ("Model card.", ModelCard)}, (404, 503))
def model_card(name: str):
    return respond(card(name, None))


@bp.get("/models/<name>/versions")
@describe(
    "Every version side by side: metrics, baseline, data, promotion and why",
    {200: ("Versions, newest first.", VersionList)},
    (404,),
)
def list_versions(name: str):
    return respond(version_list(name))


def version_list(name: str) -> VersionList:
    """Return every stored version of a model, newest first, side by side."""
    validate_name(name)
    current = current_version(name)
    summaries = []
    for v in reversed(store().versions(name)):
        try:
            meta = ModelMeta.model_validate(store().read_meta(name, v))
        except (StoreError, ValueError) as exc:
            error = str(exc) if isinstance(exc, StoreError) else "model.json is not readable"
            summaries.append(
                VersionSummary(version=v, current=v == current, created_at="", error=error)
            )
            continue
        summaries.append(
            VersionSummary(
                version=v,
                current=v == current,
                created_at=meta.created_at,
                task=meta.task,
                metrics=meta.metrics,
                baseline=meta.baseline,
                data=meta.data,
                promotion=meta.promotion,
            )
        )
    return VersionList(name=name, current_version=current, versions=summaries)


@bp.get("/models/<name>/versions/<version>")
@describe("Model card of one version", {200: ("Model card.", ModelCard)}, (404, 503))
def version_card(name: str, version: str):
    return respond(card(name, path_version(version)))


ONNX_FILE = {"type": "string", "format": "binary", "description": "An ONNX model (.onnx)."}
ONNX_MEDIA = "application/octet-stream"


@bp.get("/models/<name>/versions/<version>/onnx")
@describe(
    "One version as an ONNX graph: raw features in, the same answers out",
    {200: ("The .onnx file: preprocessing, network and answers in one graph.", ONNX_FILE)},
    (404, 409, 503),
    media=ONNX_MEDIA,
    error_text={
        409: "This version cannot be written as ONNX (the message says why).",
        503: "The onnx package is not installed on the server, or the model is unavailable.",
    },
)
def version_onnx(name: str, version: str):
    model = registry().get(name, path_version(version))
    data = exporter().to_bytes(model)
    filename = f"{model.name}-v{model.version}.onnx"  # a valid model name: safe in the header
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(data, mimetype=ONNX_MEDIA, headers=headers)


@bp.put("/models/<name>/current")
@admin_required
@describe(
    "Promote or roll back to a version",
    {200: ("New current version.", PromoteResponse)},
    (400, 404, 413, 415, 422),
    body=PromoteRequest,
)
def set_current(name: str):
    validate_name(name)  # before any lookup; the 404 does not echo it
    try:
        body = PromoteRequest.model_validate_json(json_body())
    except ValidationError as exc:
        raise from_validation(exc) from None
    store().versions(name)  # 404 for a model without versions (one LIST on object storage)
    previous = current_version(name)
    store().set_current(name, body.version)
    registry().refresh()
    return respond(PromoteResponse(name=name, current_version=body.version, previous=previous))
