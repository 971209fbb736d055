"""Predictions: the default model, a model's current version, or a pinned version.

Flask serves these routes, and documents them. `FastPredict` answers the plainly valid ones
before Flask's per-request machinery (request context, hooks, response object), which costs
more than a single-row prediction itself; anything else, errors included, goes on to Flask.
"""

from __future__ import annotations

import io

from flask import Blueprint, Flask, request
from werkzeug.exceptions import HTTPException

from model_store import parse_version

from ...errors import invalid, problem
from ...serving.jsonio import dumps
from ...serving.predictor import Predictor, Warnings
from ..http import default_model, json_body, path_version, registry, settings
from ..jsonio import json_response
from ..metrics import PREDICTIONS
from ..openapi import PREDICT_ANY, PREDICT_DEFAULT, describe
from ..schemas import PredictResponse
from ..scoring import CSV_FILE, CSV_PARAMS, dialect, score_csv

bp = Blueprint("predict", __name__)
OK = {200: ("Prediction(s) and the version that computed them.", PredictResponse)}
ERRORS = (400, 404, 413, 415, 422, 503)
# A text/csv body is a whole file, scored and answered as CSV (Accept: text/csv) or JSON.
CSV_IN = {"content": {"text/csv": CSV_FILE}, "ok_content": {"text/csv": CSV_FILE}}


def answer(predictor: Predictor, X, single: bool, warnings: Warnings | None = None) -> dict:
    """Return the PredictResponse of parsed rows (written with orjson: pydantic costs 3x on a
    1000-row batch) and count the rows predicted; a row with warnings carries them."""
    rows = predictor.predictions(X)
    for row, found in (warnings or {}).items():
        rows[row]["warnings"] = found
    PREDICTIONS.labels(predictor.name, str(predictor.version)).inc(len(rows))
    head = {"model": predictor.name, "version": predictor.version}
    return {**head, **rows[0]} if single else {**head, "predictions": rows}


def _predict(name: str, v: int | None):
    if request.mimetype == "text/csv":  # a whole file: service/web/scoring.py
        return score_csv(registry().get(name, v), strict_categories())
    dialect()  # documented for CSV bodies: refused when wrong, whatever the body
    body = json_body()
    predictor = registry().get(name, v)
    return json_response(answer(predictor, *predictor.parse(body, strict_categories())))


def strict_categories() -> bool:
    """Return whether a value never seen in training is refused: ?strict=, else the setting."""
    text = request.args.get("strict")
    if text is None:
        return settings().strict_categories
    if text.lower() not in BOOLEAN:
        msg = "strict is true or false"
        raise invalid([problem(["query", "strict"], msg)])
    return BOOLEAN[text.lower()]


BOOLEAN = {"true": True, "1": True, "false": False, "0": False}
STRICT = {
    "name": "strict",
    "in": "query",
    "required": False,
    "schema": {"type": "boolean"},
    "description": "Refuse (422) a binary or categorical value never seen in training instead "
    "of scoring it as unknown with a warning (default: NNS_STRICT_CATEGORIES).",
}
BODIES = {**CSV_IN, "params": (STRICT, *CSV_PARAMS)}  # JSON rows or a CSV file


@bp.post("/predict")
@describe("Predict with the default model", OK, ERRORS, body=PREDICT_DEFAULT, **BODIES)
def predict_default():
    return _predict(default_model(settings().default_model, registry().current), None)


@bp.post("/models/<name>/predict")
@describe("Predict with a model's current version", OK, ERRORS, body=PREDICT_ANY, **BODIES)
def predict_current(name: str):
    return _predict(name, None)


@bp.post("/models/<name>/versions/<version>/predict")
@describe("Predict with a pinned version", OK, ERRORS, body=PREDICT_ANY, **BODIES)
def predict_version(name: str, version: str):
    return _predict(name, path_version(version))


ENDPOINTS = {f"predict.{f.__name__}" for f in (predict_default, predict_current, predict_version)}


class FastPredict:
    """Answer plainly valid predict requests straight from the WSGI environ.

    The routes are matched by the app's own URL map, the body read and checked by the same
    Predictor (only bodies its orjson path accepts as they are) and the answer built by the
    same `answer`, so a request answered here gets the bytes Flask would send. Whatever this
    path does not take, from an odd content type to a model that is not loaded, goes to Flask
    with the body put back.
    """

    def __init__(self, app: Flask) -> None:
        self.urls = app.url_map.bind("localhost")  # matching only: no host is checked
        self.registry = app.extensions["nns.registry"]
        self.default_model = app.extensions["nns.settings"].default_model  # None: the only one
        self.limit = app.config["MAX_CONTENT_LENGTH"]

    def __call__(self, environ: dict) -> tuple[str, bytes] | None:
        """Return (the matched rule, the JSON answer), or None: Flask answers this request."""
        if environ.get("REQUEST_METHOD") != "POST":
            return None
        if environ.get("CONTENT_TYPE") != "application/json" or environ.get("QUERY_STRING"):
            return None  # another body, or query parameters: Flask checks and applies them
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isdigit() or int(length) > self.limit:
            return None  # chunked, missing or over the limit: Flask's body checks
        try:
            rule, args = self.urls.match(environ.get("PATH_INFO", ""), "POST", return_rule=True)
        except HTTPException:
            return None
        if rule.endpoint not in ENDPOINTS:
            return None
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)  # for Flask, if it answers after all
        try:
            version = parse_version(args["version"]) if "version" in args else None
            name = args.get("name") or default_model(self.default_model, self.registry.current)
            predictor = self.registry.get(name, version)
            parsed = predictor.plain(body)
            if parsed is None:
                return None
            return rule.rule, dumps(answer(predictor, *parsed))
        except Exception:  # noqa: BLE001 - Flask meets the same error and answers (and logs) it
            return None
