"""Open Inference Protocol V2 (REST): health, metadata and infer, on the models /predict serves."""

from __future__ import annotations

from flask import Blueprint, Response, request
from pydantic import BaseModel

from ...serving.v2 import metadata, schemas
from ...serving.v2.binary import HEADER
from ...serving.v2.infer import infer
from ..errors import ApiError
from ..http import registry, settings, store, version
from ..jsonio import json_response
from ..metrics import PREDICTIONS
from ..openapi import NAME_PARAM, VERSION_PARAM, json_content, operation
from .health import readiness

bp = Blueprint("v2", __name__)
BODY_TYPES = ("", "application/json", "application/octet-stream")  # tritonclient sends none


def _body() -> bytes:
    if request.mimetype not in BODY_TYPES:
        raise ApiError(415, "Content-Type must be application/json or application/octet-stream")
    if request.headers.get("Content-Encoding", "identity").lower() != "identity":
        raise ApiError(415, "compressed request bodies are not supported; send it uncompressed")
    return request.get_data(cache=False)


@bp.get("/v2")
@bp.get("/v2/")
def server_metadata():
    return json_response(metadata.server())


@bp.get("/v2/health/live")
def server_live():
    return json_response({"live": True})


@bp.get("/v2/health/ready")
def server_ready():
    status, _ = readiness()
    return json_response({"live": True, "ready": status == 200}, status)


def _metadata(name: str, v: int | None):
    predictor = registry().get(name, v)
    return json_response(metadata.model(predictor, store().versions(name)))


@bp.get("/v2/models/<name>")
def model_metadata(name: str):
    return _metadata(name, None)


@bp.get("/v2/models/<name>/versions/<v>")
def version_metadata(name: str, v: str):
    return _metadata(name, version(v))


def _ready(name: str, v: int | None):
    predictor = registry().get(name, v)
    return json_response({"name": predictor.name, "ready": True})


@bp.get("/v2/models/<name>/ready")
def model_ready(name: str):
    return _ready(name, None)


@bp.get("/v2/models/<name>/versions/<v>/ready")
def version_ready(name: str, v: str):
    return _ready(name, version(v))


def _infer(name: str, v: int | None):
    predictor = registry().get(name, v)
    max_batch = settings().max_batch
    body, headers, rows = infer(predictor, _body(), request.headers.get(HEADER), max_batch)
    PREDICTIONS.labels(predictor.name, str(predictor.version)).inc(rows)
    kind = "application/octet-stream" if headers else "application/json"
    return Response(body, headers=headers, mimetype=kind)


@bp.post("/v2/models/<name>/infer")
def model_infer(name: str):
    return _infer(name, None)


@bp.post("/v2/models/<name>/versions/<v>/infer")
def version_infer(name: str, v: str):
    return _infer(name, version(v))


# --- OpenAPI ------------------------------------------------------------------------------------
def _schema(model: type[BaseModel]) -> dict:
    """Return the model's JSON schema with its $defs inlined (route modules add no components)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        return [inline(v) for v in node] if isinstance(node, list) else node

    return inline(schema)


def _v2(summary: str, ok: tuple[str, type[BaseModel]], errors=(), **kw) -> dict:
    op = operation(summary, {200: (ok[0], _schema(ok[1]))}, errors, tag="Open Inference V2", **kw)
    if "400" in op["responses"]:
        op["responses"]["400"]["description"] = (
            "Bad request: invalid JSON, or shapes, datatypes and data that disagree."
        )
    return op


BINARY = {"type": "string", "format": "binary"}
BINARY_TEXT = (
    "With the binary tensor data extension: the JSON header of "
    f"{HEADER} bytes, then each binary tensor's raw little-endian bytes in order."
)
HEADER_PARAM = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "integer", "minimum": 0},
    "description": "Bytes of JSON before the binary tensor data.",
}
INFER_ERRORS = (400, 404, 413, 415, 503)


def _infer_op(summary: str, params: list[dict]) -> dict:
    body = {
        **json_content(_schema(schemas.InferRequest)),
        "application/octet-stream": {"schema": {**BINARY, "description": BINARY_TEXT}},
    }
    op = _v2(
        summary,
        ("Output tensors.", schemas.InferResponse),
        INFER_ERRORS,
        body_content=body,
        params=[*params, HEADER_PARAM],
    )
    op["responses"]["200"]["content"]["application/octet-stream"] = {
        "schema": {**BINARY, "description": BINARY_TEXT}
    }
    return op


def _model_ops(params: list[dict], suffix: str) -> dict:
    prefix = "/v2/models/{name}" + suffix
    return {
        prefix: {
            "get": _v2(
                f"V2 model metadata{suffix and ', pinned version'}",
                ("Inputs, outputs and versions.", schemas.ModelMetadata),
                (404, 503),
                params=params,
            )
        },
        prefix + "/ready": {
            "get": _v2(
                f"V2 model ready{suffix and ', pinned version'}",
                ("The model can serve.", schemas.ModelReady),
                (404, 503),
                params=params,
            )
        },
        prefix + "/infer": {
            "post": _infer_op(f"V2 inference{suffix and ', pinned version'}", params)
        },
    }


SERVER_READY = _v2(
    "V2 server ready", ("Every model has a version to serve.", schemas.ServerReady), (503,)
)
SERVER_READY["responses"]["503"] = {
    "description": "A model has no version to serve.",
    "content": json_content(_schema(schemas.ServerReady)),
}
OPENAPI = {
    "/v2": {"get": _v2("V2 server metadata", ("Server metadata.", schemas.ServerMetadata))},
    "/v2/health/live": {"get": _v2("V2 server live", ("Process is up.", schemas.ServerLive))},
    "/v2/health/ready": {"get": SERVER_READY},
    **_model_ops([NAME_PARAM], ""),
    **_model_ops([NAME_PARAM, VERSION_PARAM], "/versions/{version}"),
}
