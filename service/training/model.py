"""A stored version made runnable: its feature rule, scaler, network and target decoding.

Serving wraps it (service.serving.predictor); training uses it to evaluate the current version
on a new version's held-out rows before deciding on promotion.
"""

from __future__ import annotations

import numpy as np

from model_store import Artifact

from ..data.features import FeatureSet
from ..nn import MLP, Standardizer
from .metadata import ModelMeta


class TrainedModel:
    """One version: raw feature columns in, network outputs and answers out."""

    def __init__(self, artifact: Artifact) -> None:
        self.meta = ModelMeta.model_validate(artifact.meta)
        self.name, self.version = artifact.model, artifact.version
        self.task = self.meta.task
        self.classes = self.meta.classes or []
        self.feature_set = FeatureSet(self.meta.features)
        self.net = MLP.from_config(self.meta.architecture.model_dump(), artifact.arrays)
        self.scaler = Standardizer.from_dict(self.meta.normalisation.model_dump())
        scaling = self.meta.target_scaling
        self.target_mean, self.target_scale = (scaling.mean, scaling.scale) if scaling else (0, 1)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Return the network outputs for encoded features; regression in target units.

        X: (n, width) -> (n, n_outputs). Overflow is not warned about: callers check finiteness.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.net.predict(self.scaler.transform(X))
            if self.task == "regression":
                out = out * self.target_scale + self.target_mean
        return out
