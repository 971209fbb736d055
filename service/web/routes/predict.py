"""Predictions: the default model, a model's current version, or a pinned version."""

from flask import Blueprint

from ..http import json_body, registry, settings, version
from ..jsonio import json_response
from ..metrics import PREDICTIONS

bp = Blueprint("predict", __name__)


def _predict(name: str, v: int | None):
    body = json_body()
    predictor = registry().get(name, v)
    X, single = predictor.parse(body)
    rows = predictor.predictions(X)
    PREDICTIONS.labels(predictor.name, str(predictor.version)).inc(len(rows))
    head = {"model": predictor.name, "version": predictor.version}
    return json_response({**head, **rows[0]} if single else {**head, "predictions": rows})


@bp.post("/predict")
def predict_default():
    return _predict(settings().default_model, None)


@bp.post("/models/<name>/predict")
def predict_current(name: str):
    return _predict(name, None)


@bp.post("/models/<name>/versions/<v>/predict")
def predict_version(name: str, v: str):
    return _predict(name, version(v))
