"""The OpenAPI 3.1 document, generated from the app's URL map and each view's declaration.

Every view declares itself with `@describe(...)`: a summary, its request body and responses as
the pydantic models that validate and build them, and its error statuses. `admin_required`
marks the secured ones. A route without a declaration makes `build` fail, so the document, the
security test and the fuzzer can never miss one. Written by hand rather than with spectree or
flask-openapi3: predict bodies are generated per served model at request time, and V2 and CSV
bodies are not JSON, which both libraries would have to be worked around for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..serving.predictor import Predictor
from .auth import is_secured
from .schemas import ErrorBody

REF = "#/components/schemas/{model}"
VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # a Flask rule's <converter:name>
OPERATION = "nns_operation"  # the attribute `describe` sets on a view
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
PATH_PARAMS = {
    "name": ({"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}, "Model name."),
    "version": ({"type": "string", "pattern": "^[1-9][0-9]{0,8}$"}, "Model version."),
    "job_id": ({"type": "string", "pattern": "^[0-9a-f]{32}$"}, "Job id."),
    "asset": ({"type": "string", "pattern": "^[a-z0-9][a-z0-9.-]{0,63}$"}, "A dashboard file."),
}
PREDICT_DEFAULT, PREDICT_ANY = "predict:default", "predict:any"  # bodies built per served model

Schema = type[BaseModel] | dict | str | None  # a model, a raw schema, a predict sentinel, none


class UndocumentedRoute(LookupError):
    """A route has no `@describe` declaration."""


@dataclass(frozen=True)
class Operation:
    """What the document says about one view."""

    summary: str
    ok: dict[int, tuple[str, Schema]]
    errors: tuple[int, ...] = ()
    body: Schema = None
    content: dict[str, dict] = field(default_factory=dict)  # more request media types
    params: tuple[dict, ...] = ()  # query and header parameters
    tag: str | None = None
    headers: dict[int, dict] = field(default_factory=dict)  # response headers by status
    media: str = "application/json"  # of the `ok` responses
    ok_content: dict[str, dict] = field(default_factory=dict)  # more media types of those
    error_text: dict[int, str] = field(default_factory=dict)
    components: dict[str, dict] = field(default_factory=dict)  # raw schemas `body` refers to


def describe(summary: str, ok: dict[int, tuple[str, Schema]], errors=(), **kw):
    """Declare a view's operation for the document (see `Operation`)."""

    def mark(view):
        setattr(view, OPERATION, Operation(summary, ok, tuple(errors), **kw))
        return view

    return mark


def ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


class _Builder:
    """Collect component schemas while operations are described."""

    def __init__(self, predictors: dict[str, Predictor], default_model: str | None) -> None:
        self.models: dict[str, type[BaseModel]] = {}
        self.extra: dict[str, dict] = {}
        bodies = []
        for name in sorted(predictors):
            schema = predictors[name].request.json_schema(ref_template=REF)
            self.extra.update(schema.pop("$defs", {}))
            self.extra[f"{name}.PredictRequest"] = schema
            bodies.append(ref(f"{name}.PredictRequest"))
        self.any_body = {"anyOf": bodies} if bodies else {"type": "object"}
        if default_model is None and len(predictors) == 1:
            default_model = next(iter(predictors))  # the store's only model serves /predict
        in_store = default_model in predictors
        self.default_body = ref(f"{default_model}.PredictRequest") if in_store else self.any_body

    def schema(self, spec: Schema) -> dict:
        if isinstance(spec, type) and issubclass(spec, BaseModel):
            self.models[spec.__name__] = spec
            return ref(spec.__name__)
        if spec == PREDICT_DEFAULT:
            return self.default_body
        if spec == PREDICT_ANY:
            return self.any_body
        return spec if isinstance(spec, dict) else {}

    def operation(self, op: Operation, params: list[str], secured: bool) -> dict:
        responses: dict[str, Any] = {}
        for status, (text, spec) in op.ok.items():
            responses[str(status)] = {"description": text}
            if spec is not None:
                media = op.media if status < 300 else "application/json"
                content = {media: {"schema": self.schema(spec)}}
                responses[str(status)]["content"] = content | (
                    op.ok_content if status < 300 else {}
                )
            if status in op.headers:
                responses[str(status)]["headers"] = op.headers[status]
        errors = {*op.errors, 405, 500} | ({401, 503} if secured else set())
        for status in sorted(errors - set(op.ok)):
            text = op.error_text.get(status, ERROR_TEXT[status])
            body = {"application/json": {"schema": self.schema(ErrorBody)}}
            responses[str(status)] = {"description": text, "content": body}
        out: dict[str, Any] = {"summary": op.summary, "responses": responses}
        if op.tag:
            out["tags"] = [op.tag]
        parameters = [_path_param(p) for p in params] + list(op.params)
        if parameters:
            out["parameters"] = parameters
        self.extra.update(op.components)
        if op.body is not None or op.content:
            content = {"application/json": {"schema": self.schema(op.body)}} if op.body else {}
            out["requestBody"] = {"required": True, "content": {**content, **op.content}}
        if secured:
            out["security"] = [{"bearer": []}]
        return out

    def components(self) -> dict:
        listed = [(m, "validation") for m in self.models.values()]
        _, defs = models_json_schema(listed, ref_template=REF)
        return {**defs.get("$defs", {}), **self.extra}


def _path_param(name: str) -> dict:
    schema, text = PATH_PARAMS[name]  # a new path variable needs its schema here
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": text}


def operations(app: Flask):
    """Yield (OpenAPI path, method, view, rule) for every route of the app, static excluded."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        path = VARIABLE.sub(r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield path, method.lower(), app.view_functions[rule.endpoint], rule


def build(app: Flask, predictors: dict[str, Predictor], default_model: str | None) -> dict:
    """Return the whole document; `predictors` maps model name to its served Predictor."""
    builder = _Builder(predictors, default_model)
    paths: dict[str, dict] = {}
    for path, method, view, rule in operations(app):
        op = getattr(view, OPERATION, None)
        if op is None:
            raise UndocumentedRoute(f"{method.upper()} {rule.rule} has no @describe")
        params = VARIABLE.findall(rule.rule)
        paths.setdefault(path, {})[method] = builder.operation(op, params, is_secured(view))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "NumPy neural network prediction service",
            "version": "1.0.0",
            "description": "Predict with small NumPy networks; retrain them with background jobs.",
        },
        "paths": paths,
        "components": {
            "schemas": builder.components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
