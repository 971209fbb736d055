"""Predictions: the default model, a model's current version, or a pinned version."""

from flask import Blueprint

from ..http import json_body, path_version, registry, settings
from ..jsonio import json_response
from ..metrics import PREDICTIONS
from ..openapi import PREDICT_ANY, PREDICT_DEFAULT, describe
from ..schemas import PredictResponse

bp = Blueprint("predict", __name__)
OK = {200: ("Prediction(s) and the version that computed them.", PredictResponse)}
ERRORS = (400, 404, 413, 415, 422, 503)


def _predict(name: str, v: int | None):
    body = json_body()
    predictor = registry().get(name, v)
    X, single = predictor.parse(body)
    rows = predictor.predictions(X)
    PREDICTIONS.labels(predictor.name, str(predictor.version)).inc(len(rows))
    head = {"model": predictor.name, "version": predictor.version}
    # A PredictResponse, written with orjson: pydantic would cost 3x on a 1000-row batch.
    return json_response({**head, **rows[0]} if single else {**head, "predictions": rows})


@bp.post("/predict")
@describe("Predict with the default model", OK, ERRORS, body=PREDICT_DEFAULT)
def predict_default():
    return _predict(settings().default_model, None)


@bp.post("/models/<name>/predict")
@describe("Predict with a model's current version", OK, ERRORS, body=PREDICT_ANY)
def predict_current(name: str):
    return _predict(name, None)


@bp.post("/models/<name>/versions/<version>/predict")
@describe("Predict with a pinned version", OK, ERRORS, body=PREDICT_ANY)
def predict_version(name: str, version: str):
    return _predict(name, path_version(version))
