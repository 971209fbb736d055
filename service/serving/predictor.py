"""A loaded model version: its network, scaler and feature rule, ready to predict."""

from __future__ import annotations

import math

import numpy as np
import orjson
from pydantic import ValidationError

from model_store import Artifact

from ..data.features import Unknown
from ..data.featurespec import CODED
from ..errors import InvalidInput, from_validation
from ..training.model import TrainedModel


class NonFiniteOutput(InvalidInput):
    """The network's output overflowed for some rows: their inputs are far outside training."""

    def __init__(self, rows: list[int]) -> None:
        shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
        super().__init__(
            f"no finite prediction for row{'s' if len(rows) > 1 else ''} {shown}: the values "
            "are too far outside the range the model was trained on"
        )
        self.rows = rows


Warnings = dict[int, list[str]]  # row -> what was scored as unknown in it
SHOWN = 60  # characters of an unknown value quoted in its warning


def warnings(unknowns: list[Unknown]) -> Warnings:
    """Return each row's warnings, naming the feature and the value never seen in training."""
    found: Warnings = {}
    for unknown in unknowns:
        for row, value in zip(unknown.rows, unknown.values, strict=True):
            shown = repr(value.item() if isinstance(value, np.generic) else value)
            shown = shown if len(shown) <= SHOWN else shown[: SHOWN - 3] + "..."
            found.setdefault(row, []).append(
                f"{unknown.feature}: {shown} was not seen in training; scored as an unknown "
                "category (the training average)"
            )
    return found


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


class Predictor(TrainedModel):
    """Predict with one immutable model version."""

    def __init__(self, artifact: Artifact, max_batch: int) -> None:
        super().__init__(artifact)
        features, title = self.feature_set, _camel(self.name)
        # The documented body takes any value of a binary or categorical feature's types (one
        # never seen is scored as unknown); the strict one takes only the values seen.
        self.request = features.request_adapter(title, max_batch, strict=False)
        coded = any(s.type in CODED and not s.zero_one for s in features.specs)
        self.coded = coded  # a value never seen in training is possible (file scoring's warnings)
        strict = features.request_adapter(f"{title}Strict", max_batch) if coded else self.request
        self.strict_request = strict
        self.max_batch = max_batch
        self._labels = np.array(self.classes, dtype=object) if self.classes else None

    def parse(self, body: bytes, strict: bool = False) -> tuple[np.ndarray, bool, Warnings]:
        """Validate a raw predict body; return X: (n, width), whether it was one row, and the
        warnings of rows with a value never seen in training (refused when `strict`)."""
        plain = self.plain(body)
        if plain is not None:
            return (*plain, {})
        try:
            data = (self.strict_request if strict else self.request).validate_json(body)
        except ValidationError as exc:
            raise from_validation(exc, strip=1) from None
        single = "instances" not in data
        X, unknowns = self.feature_set.encode_rows([data] if single else data["instances"])
        return self.at_average(X, unknowns), single, warnings(unknowns)

    def at_average(self, X: np.ndarray, unknowns: list[Unknown]) -> np.ndarray:
        """Score the cells of values never seen in training (NaN in X) at the training average
        of their columns, which the network sees as 0 after scaling."""
        if unknowns:
            gaps = np.isnan(X)
            X[gaps] = np.broadcast_to(self.scaler.mean, X.shape)[gaps]
        return X

    def plain(self, body: bytes) -> tuple[np.ndarray, bool] | None:
        """Read a plainly valid body with orjson and the feature rule; None: let pydantic decide.

        orjson and the vectorised checks cost half of pydantic's validation of a large batch;
        they accept only bodies pydantic accepts, with the same values.
        """
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if type(data) is not dict:
            return None
        if len(data) == 1 and "instances" in data:
            rows = data["instances"]
            if type(rows) is not list or not 0 < len(rows) <= self.max_batch:
                return None
            X = self.feature_set.plain_rows(rows)
            return None if X is None else (X, False)
        X = self.feature_set.plain_row(data)
        return None if X is None else (X, True)

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """Return the network outputs for encoded features. X: (n, width) -> (n, n_outputs).

        Raises NonFiniteOutput naming the rows whose outputs overflowed.
        """
        out = self.forward(X)
        if not np.isfinite(out).all():
            raise NonFiniteOutput(np.flatnonzero(~np.isfinite(out).all(axis=1)).tolist())
        return out

    def labels(self, out: np.ndarray) -> tuple[np.ndarray, list]:
        """Return (class index, label) per row of classifier outputs. out: (n, n_outputs)."""
        idx = self.net.class_indices(out)
        return idx, self._labels[idx].tolist()

    def predictions(self, X: np.ndarray) -> list[dict]:
        """Return one JSON-ready prediction per row of X, from one vectorised forward pass."""
        if len(X) == 1:
            return [self._one(self.forward(X)[0].tolist())]
        out = self.outputs(X)
        if self.task == "regression":
            return [{"prediction": v} for v in out[:, 0].tolist()]
        idx, labels = self.labels(out)
        if self.task == "binary":
            return [
                {"label": lab, "probability": q}
                for lab, q in zip(labels, out[:, 0].tolist(), strict=True)
            ]
        best = out[np.arange(len(idx)), idx].tolist()
        return [
            {"label": lab, "probability": q, "probabilities": row}
            for lab, q, row in zip(labels, best, out.tolist(), strict=True)
        ]

    def _one(self, out: list[float]) -> dict:
        """Return the prediction of one row's outputs: predictions() without NumPy calls."""
        if not all(map(math.isfinite, out)):
            raise NonFiniteOutput([0])
        if self.task == "regression":
            return {"prediction": out[0]}
        i = self.net.class_index(out)
        if self.task == "binary":
            return {"label": self.classes[i], "probability": out[0]}
        return {"label": self.classes[i], "probability": out[i], "probabilities": out}
