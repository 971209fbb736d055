"""Run an exported graph with ONNX Runtime and hold its answers against the service's.

Rows are JSON-like dicts (None: missing). `feeds` writes them as the graph takes them (float32
with NaN, or text with ""); `answers` turns the graph's outputs into /predict's shape;
`reference` is /predict's answer computed in Python from the stored normalisation, with a
category never seen in training scored at the training mean of its feature's columns (the
rule the service adopts in issue 20; on this code /predict refuses such a row).
"""

from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort

from service.data import dates
from service.data.features import FeatureSet
from service.serving.onnx_inputs import takes_text
from service.serving.predictor import Predictor
from service.serving.v2.signature import feature_input, text_of

ATOL = 1e-5  # probabilities: float32 against /predict's float64
RTOL = 1e-5  # regression: relative, as float32 holds about 7 digits of a price


def session(data: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def feeds(predictor: Predictor, rows: list[dict]) -> dict[str, np.ndarray]:
    """Return the graph's inputs for rows: float32 [N, 1] (NaN: missing) or text [N, 1] ("")."""
    out = {}
    for spec in predictor.meta.features:
        column = [row[spec.name] for row in rows]
        if takes_text(spec):
            texts = ["" if v is None else text_of(v) for v in column]
            out[spec.name] = np.array(texts, dtype=object).reshape(-1, 1)
        else:
            number = dates.days_of if spec.type == "date" else float  # a date's input is days
            values = [math.nan if v is None else number(v) for v in column]
            out[spec.name] = np.array(values, dtype=np.float32).reshape(-1, 1)
    return out


def run(sess: ort.InferenceSession, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, inputs), strict=True))


def answers(predictor: Predictor, outputs: dict[str, np.ndarray]) -> list[dict]:
    """Return /predict's answer per row from the graph's outputs."""
    if predictor.task == "regression":
        return [{"prediction": v} for v in outputs["prediction"][:, 0].tolist()]
    probability, labels = outputs["probability"], outputs["label"].tolist()
    if predictor.task == "binary":
        rows = zip(labels, probability[:, 0].tolist(), strict=True)
        return [{"label": label, "probability": p} for label, p in rows]
    texts = [text_of(c) for c in predictor.classes]
    out = []
    for label, row in zip(labels, probability.tolist(), strict=True):
        best = row[texts.index(text_of(label))] if text_of(label) in texts else math.nan
        out.append({"label": label, "probability": best, "probabilities": row})
    return out


def reference(predictor: Predictor, rows: list[dict]) -> list[dict]:
    """Return /predict's answers computed in Python, unknown categories at the training mean.

    A missing value where training had none is NaN in, NaN out (the service refuses it).
    """
    n = len(rows)
    X = np.empty((n, predictor.feature_set.width))
    mean = predictor.scaler.mean
    at = 0
    for spec in predictor.meta.features:
        column = [row[spec.name] for row in rows]
        cols = slice(at, at + spec.width)
        if takes_text(spec):
            # What the graph reads: the text of each value; "" is missing when nullable.
            values = feature_input(spec).text or {}
            texts = ["" if v is None else text_of(v) for v in column]
            unknown = np.array([t not in values for t in texts], dtype=bool)
            placeholder = spec.values[0] if spec.values else None
            raw = [values.get(t, placeholder) for t in texts]
            X[:, cols] = FeatureSet([spec]).encode([raw])
            X[unknown, cols] = mean[cols]
        else:
            gaps = [v is None for v in column]
            filled = [0.0 if v is None and not spec.nullable else v for v in column]
            X[:, cols] = FeatureSet([spec]).encode([filled])
            if not spec.nullable:
                X[np.array(gaps, dtype=bool), cols] = math.nan
        at += spec.width
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(predictor.forward(X)).all(axis=1)
    out: list[dict] = [_nan_answer(predictor) for _ in range(n)]
    if finite.any():
        for i, answer in zip(np.flatnonzero(finite), predictor.predictions(X[finite]), strict=True):
            out[i] = answer
    return out


def _nan_answer(predictor: Predictor) -> dict:
    """The answer of a row with no finite output: NaN numbers, no label."""
    if predictor.task == "regression":
        return {"prediction": math.nan}
    answer = {"label": None, "probability": math.nan}
    if predictor.task == "multiclass":
        answer["probabilities"] = [math.nan] * len(predictor.classes)
    return answer


def assert_same(got: list[dict], expected: list[dict], rows: list[int] | None = None) -> None:
    """Assert the graph's answers equal the service's: numbers to 1e-5, labels identical.

    A row whose expected numbers are NaN must be NaN in the graph too (its label is moot).
    """
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        where = f"row {rows[i] if rows else i}: {g} != {e}"
        assert set(g) == set(e) - {"warnings"}, where  # the graph has no warnings to give
        if "prediction" in e:
            a, b = g["prediction"], e["prediction"]
            assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= RTOL * max(1.0, abs(b)), where
            continue
        a = np.array(g.get("probabilities", [g["probability"]]), dtype=np.float64)
        b = np.array(e.get("probabilities", [e["probability"]]), dtype=np.float64)
        if np.isnan(b).all():
            assert np.isnan(a).all(), where
            continue
        assert np.abs(a - b).max() <= ATOL and abs(g["probability"] - e["probability"]) <= ATOL, (
            where
        )
        assert text_of(_plain(g["label"])) == text_of(e["label"]), where


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
