"""A loaded model version: its network, scaler and request validator, ready to predict."""

from __future__ import annotations

from itertools import chain
from operator import itemgetter

import numpy as np
import orjson
from pydantic import ValidationError

from model_store import Artifact

from ..nn import MLP, Standardizer
from ..web.errors import from_validation
from ..web.schemas import predict_request

# An all-0/1 model has 2**n_features possible rows; up to 12 features they all fit here.
SINGLE_ROW_CACHE = 4096


def _class_value(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class Predictor:
    """Predict with one immutable model version."""

    def __init__(self, artifact: Artifact, max_batch: int) -> None:
        meta = artifact.meta
        self.name, self.version, self.meta = artifact.model, artifact.version, meta
        self.features = [f["name"] for f in meta["features"]]
        self.task = meta["task"]
        self.classes = [_class_value(c) for c in meta.get("classes") or []]
        self.net = MLP.from_config(meta["architecture"], artifact.arrays)
        self.scaler = Standardizer.from_dict(meta["normalisation"])
        self.request = predict_request(self.name, meta["features"], max_batch)
        self.max_batch = max_batch
        one = self.features[0]
        self._row_values = itemgetter(*self.features) if len(self.features) > 1 else (
            lambda row: (row[one],)
        )  # fmt: skip
        self._binary = [f["type"] == "binary" for f in meta["features"]]
        # Single-row answers by the row's bytes, for models whose inputs are all 0/1 (a finite
        # domain): the forward pass on one row costs more than the rest of the request.
        self._single: dict[bytes, dict] | None = {} if all(self._binary) else None

    def parse(self, body: bytes) -> tuple[np.ndarray, bool]:
        """Validate a raw predict body; return X: (n, n_features) and whether it was one row."""
        if b'"instances"' in body:
            X = self._plain_batch(body)
            if X is not None:
                return X, False
        try:
            data = self.request.validate_json(body)
        except ValidationError as exc:
            raise from_validation(exc, strip=1) from None
        single = "instances" not in data
        rows = [data] if single else data["instances"]
        # Validated rows are dicts in feature order, so their values, chained, are the matrix;
        # fromiter reads them in one pass (np.array on a list of tuples costs twice as much).
        values = chain.from_iterable(map(dict.values, rows))
        X = np.fromiter(values, dtype=np.float64, count=len(rows) * len(self.features))
        return X.reshape(len(rows), len(self.features)), single

    def _plain_batch(self, body: bytes) -> np.ndarray | None:
        """Return X for a batch that is plainly valid, else None and pydantic decides.

        orjson and a few set and NumPy checks cost half of pydantic's validation of a large
        batch. They accept only bodies pydantic accepts, with the same values: an exact key
        set, finite JSON numbers (no bool, string or null), 0 or 1 for 0/1 features.
        """
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        rows = data.get("instances") if type(data) is dict and len(data) == 1 else None
        if type(rows) is not list or not 0 < len(rows) <= self.max_batch:
            return None
        width = len(self.features)
        try:
            # Rows of `width` entries that have every feature are dicts with exactly those keys.
            if set(map(len, rows)) != {width}:
                return None
            values = list(chain.from_iterable(map(self._row_values, rows)))
        except (TypeError, KeyError):
            return None
        if not set(map(type, values)) <= {int, float}:
            return None
        X = np.array(values, dtype=np.float64).reshape(len(rows), width)
        binary = X[:, self._binary]
        if not (np.isfinite(X).all() and ((binary == 0) | (binary == 1)).all()):
            return None
        return X

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """Return the network outputs for raw features. X: (n, n_features) -> (n, n_outputs)."""
        return self.net.predict(self.scaler.transform(X))

    def predictions(self, X: np.ndarray) -> list[dict]:
        """Return one JSON-ready prediction per row of X, from one vectorised forward pass."""
        if self._single is None or len(X) != 1:
            return self._predictions(X)
        key = X.tobytes()
        answer = self._single.get(key)
        if answer is None:
            answer = self._predictions(X)[0]  # the same computation as an uncached row
            if len(self._single) < SINGLE_ROW_CACHE:
                self._single[key] = answer
        return [{**answer}]

    def _predictions(self, X: np.ndarray) -> list[dict]:
        out = self.outputs(X)
        if self.task == "regression":
            return [{"prediction": v} for v in out[:, 0].tolist()]
        idx = self.net.class_indices(out)
        if self.task == "binary":  # classes are 0 and 1, so the index is the label
            return [
                {"label": lab, "probability": q}
                for lab, q in zip(idx.tolist(), out[:, 0].tolist(), strict=True)
            ]
        best = out[np.arange(len(idx)), idx].tolist()
        return [
            {"label": self.classes[i], "probability": q, "probabilities": row}
            for i, q, row in zip(idx.tolist(), best, out.tolist(), strict=True)
        ]

    def card(self) -> dict:
        """Return the model card of this version (without the current pointer)."""
        m = self.meta
        history = m.get("history", {})
        return {
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "features": m["features"],
            "target": m["target"],
            "classes": m.get("classes"),
            "architecture": m["architecture"],
            "metrics": m.get("metrics", {}),
            "training": {
                "hyperparameters": m.get("hyperparameters", {}),
                "data": m.get("data", {}),
                "epochs_run": history.get("epochs_run"),
                "best_epoch": history.get("best_epoch"),
                "seconds": history.get("seconds"),
                "final_loss": m.get("metrics", {}).get("final_loss"),
            },
            "created_at": m.get("created_at", ""),
        }
