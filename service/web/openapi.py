"""The OpenAPI 3.1 document, generated from the pydantic models that validate requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import schemas

REF = "#/components/schemas/{model}"
ERROR_TEXT = {
    400: "Body is not valid JSON.",
    401: "Missing or wrong bearer token.",
    404: "Unknown model, version, job or URL.",
    405: "Method not allowed.",
    409: "Conflict with the current state.",
    413: "Body over the size limit.",
    415: "Content-Type is not the one expected.",
    422: "Body is valid JSON but its content is invalid.",
    500: "Unexpected server error.",
    503: "Not ready, or the feature is disabled.",
}
STATIC_MODELS: list[type[BaseModel]] = [
    schemas.ErrorBody,
    schemas.PredictResponse,
    schemas.ModelList,
    schemas.ModelCard,
    schemas.Health,
    schemas.PromoteRequest,
    schemas.TrainRequest,
    schemas.JobAccepted,
    schemas.JobStatus,
]


def ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def operation(
    summary: str,
    ok: dict[int, tuple[str, dict | None]],
    errors: tuple[int, ...] = (),
    *,
    body: dict | None = None,
    body_content: dict | None = None,
    params: list[dict] | None = None,
    secured: bool = False,
    tag: str | None = None,
) -> dict:
    """Describe one operation; `ok` maps status to (description, JSON schema or None)."""
    responses: dict[str, Any] = {}
    for status, (text, schema) in ok.items():
        responses[str(status)] = {"description": text}
        if schema is not None:
            responses[str(status)]["content"] = json_content(schema)
    for status in sorted({*errors, 405, 500}):
        responses[str(status)] = {
            "description": ERROR_TEXT[status],
            "content": json_content(ref("ErrorBody")),
        }
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if tag:
        op["tags"] = [tag]
    if params:
        op["parameters"] = params
    if body is not None or body_content is not None:
        op["requestBody"] = {"required": True, "content": body_content or json_content(body)}
    if secured:
        op["security"] = [{"bearer": []}]
    return op


def path_param(name: str, schema: dict, text: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": text}


MODEL_NAME = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}
VERSION = {"type": "string", "pattern": "^[1-9][0-9]{0,8}$"}
NAME_PARAM = path_param("name", MODEL_NAME, "Model name.")
VERSION_PARAM = path_param("version", VERSION, "Model version, a positive integer.")


def build(predictors: dict, default_model: str, extra_paths: list[dict]) -> dict:
    """Return the whole document; `predictors` maps model name to its loaded Predictor."""
    _, defs = models_json_schema([(m, "validation") for m in STATIC_MODELS], ref_template=REF)
    components = dict(defs.get("$defs", {}))
    bodies = []
    for name in sorted(predictors):
        schema = predictors[name].request.json_schema(ref_template=REF)
        components.update(schema.pop("$defs", {}))
        components[f"{name}.PredictRequest"] = schema
        bodies.append(ref(f"{name}.PredictRequest"))
    any_body = {"anyOf": bodies} if bodies else {"type": "object"}
    default_body = (
        ref(f"{default_model}.PredictRequest") if default_model in predictors else any_body
    )
    paths: dict[str, dict] = {}
    for fragment in [core_paths(default_body, any_body), *extra_paths]:
        for path, ops in fragment.items():
            paths.setdefault(path, {}).update(ops)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "NumPy neural network prediction service",
            "version": "1.0.0",
            "description": "Predict with small NumPy networks; retrain them with background jobs.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def core_paths(default_body: dict, any_body: dict) -> dict:
    """Describe the endpoints of the health, models, predict and docs blueprints."""
    predict_ok = {
        200: ("Prediction(s) and the version that computed them.", ref("PredictResponse"))
    }
    predict_err = (400, 404, 413, 415, 422, 503)
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "/health/live": {"get": operation("Liveness", {200: ("Process is up.", ref("Health"))})},
        "/health/ready": {
            "get": operation(
                "Readiness",
                {200: ("Every model has a version to serve.", ref("Health"))},
                (503,),
            )
        },
        "/models": {"get": operation("List models", {200: ("Models.", ref("ModelList"))})},
        "/models/{name}": {
            "get": operation(
                "Model card of the current version",
                {200: ("Model card.", ref("ModelCard"))},
                (404, 503),
                params=[NAME_PARAM],
            )
        },
        "/models/{name}/versions/{version}": {
            "get": operation(
                "Model card of one version",
                {200: ("Model card.", ref("ModelCard"))},
                (404, 503),
                params=[NAME_PARAM, VERSION_PARAM],
            )
        },
        "/models/{name}/current": {
            "put": operation(
                "Promote or roll back to a version",
                {200: ("New current version.", {"type": "object"})},
                (400, 401, 404, 413, 415, 422, 503),
                body=ref("PromoteRequest"),
                params=[NAME_PARAM],
                secured=True,
            )
        },
        "/predict": {
            "post": operation(
                "Predict with the default model", predict_ok, predict_err, body=default_body
            )
        },
        "/models/{name}/predict": {
            "post": operation(
                "Predict with a model's current version",
                predict_ok,
                predict_err,
                body=any_body,
                params=[NAME_PARAM],
            )
        },
        "/models/{name}/versions/{version}/predict": {
            "post": operation(
                "Predict with a pinned version",
                predict_ok,
                predict_err,
                body=any_body,
                params=[NAME_PARAM, VERSION_PARAM],
            )
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "Exposition text.", "content": text}},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1.", "content": json_content({})}},
            }
        },
        "/docs": {
            "get": {
                "summary": "API reference page",
                "responses": {
                    "200": {
                        "description": "HTML page.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }
