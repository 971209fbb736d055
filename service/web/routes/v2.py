"""Open Inference Protocol V2 (REST): health, metadata and infer, on the models /predict serves."""

from __future__ import annotations

from flask import Blueprint, Response, request

from ...serving.v2 import metadata, schemas
from ...serving.v2.binary import HEADER
from ...serving.v2.infer import infer
from ..errors import ApiError
from ..http import path_version, read_body, registry, respond, settings, store
from ..metrics import PREDICTIONS
from ..openapi import describe
from .health import readiness

bp = Blueprint("v2", __name__)
BODY_TYPES = ("", "application/json", "application/octet-stream")  # tritonclient sends none
TAG = "Open Inference V2"
BAD_REQUEST = {400: "Bad request: invalid JSON, or shapes, datatypes and data that disagree."}
BINARY = {
    "type": "string",
    "format": "binary",
    "description": f"With the binary tensor data extension: the JSON header of {HEADER} bytes, "
    "then each binary tensor's raw little-endian bytes in order.",
}
HEADER_PARAM = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "integer", "minimum": 0},
    "description": "Bytes of JSON before the binary tensor data.",
}


def v2(summary: str, ok: tuple[str, type], errors=(), **kw):
    """Describe a V2 operation: one JSON answer, 400s worded as the protocol's."""
    return describe(summary, {200: ok}, errors, tag=TAG, error_text=BAD_REQUEST, **kw)


def _body() -> bytes:
    if request.mimetype not in BODY_TYPES:
        raise ApiError(415, "Content-Type must be application/json or application/octet-stream")
    if request.headers.get("Content-Encoding", "identity").lower() != "identity":
        raise ApiError(415, "compressed request bodies are not supported; send it uncompressed")
    return read_body(request.environ)


@bp.get("/v2")
@v2("V2 server metadata", ("Server metadata.", schemas.ServerMetadata))
def server_metadata():
    return respond(schemas.ServerMetadata(**metadata.server()))


@bp.get("/v2/health/live")
@v2("V2 server live", ("Process is up.", schemas.ServerLive))
def server_live():
    return respond(schemas.ServerLive(live=True))


@bp.get("/v2/health/ready")
@describe(
    "V2 server ready",
    {
        200: ("Every model has a version to serve.", schemas.ServerReady),
        400: (
            "A model has no version to serve (the protocol's 4xx for not ready).",
            schemas.ServerReady,
        ),
    },
    tag=TAG,
)
def server_ready():
    # The protocol says not ready is a 4xx; /health/ready keeps 503 for Kubernetes probes.
    ready = readiness().status != "unavailable"
    return respond(schemas.ServerReady(live=True, ready=ready), 200 if ready else 400)


def _metadata(name: str, v: int | None):
    predictor = registry().get(name, v)
    return respond(schemas.ModelMetadata(**metadata.model(predictor, store().versions(name))))


METADATA = ("Inputs, outputs and versions.", schemas.ModelMetadata)


@bp.get("/v2/models/<name>")
@v2("V2 model metadata", METADATA, (404, 503))
def model_metadata(name: str):
    return _metadata(name, None)


@bp.get("/v2/models/<name>/versions/<version>")
@v2("V2 model metadata, pinned version", METADATA, (404, 503))
def version_metadata(name: str, version: str):
    return _metadata(name, path_version(version))


def _ready(name: str, v: int | None):
    predictor = registry().get(name, v)
    return respond(schemas.ModelReady(name=predictor.name, ready=True))


READY = ("The model can serve.", schemas.ModelReady)


@bp.get("/v2/models/<name>/ready")
@v2("V2 model ready", READY, (404, 503))
def model_ready(name: str):
    return _ready(name, None)


@bp.get("/v2/models/<name>/versions/<version>/ready")
@v2("V2 model ready, pinned version", READY, (404, 503))
def version_ready(name: str, version: str):
    return _ready(name, path_version(version))


def _infer(name: str, v: int | None):
    predictor = registry().get(name, v)
    s = settings()
    body, headers, rows = infer(
        predictor, _body(), request.headers.get(HEADER), s.max_batch, s.strict_categories
    )
    PREDICTIONS.labels(predictor.name, str(predictor.version)).inc(rows)
    kind = "application/octet-stream" if headers else "application/json"
    # An InferResponse, written with orjson (outputs may follow as raw bytes).
    return Response(body, headers=headers, mimetype=kind)


def infer_op(summary: str):
    """Describe an infer operation: JSON, or JSON then raw tensor bytes, both ways."""
    binary = {"application/octet-stream": {"schema": BINARY}}
    return v2(
        summary,
        ("Output tensors.", schemas.InferResponse),
        (400, 404, 413, 415, 503),
        body=schemas.InferRequest,
        content=binary,
        ok_content=binary,
        params=(HEADER_PARAM,),
    )


@bp.post("/v2/models/<name>/infer")
@infer_op("V2 inference")
def model_infer(name: str):
    return _infer(name, None)


@bp.post("/v2/models/<name>/versions/<version>/infer")
@infer_op("V2 inference, pinned version")
def version_infer(name: str, version: str):
    return _infer(name, path_version(version))
