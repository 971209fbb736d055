"""Feature scaling fitted on training data and stored as plain JSON lists."""

from typing import Any

import numpy as np


class Standardizer:
    """Map each feature to zero mean and unit variance: (X - mean) / scale."""

    def __init__(self, mean: Any, scale: Any) -> None:
        """Wrap per-feature mean and scale, each (n_features,); scale must be > 0."""
        mean = np.asarray(mean, dtype=np.float64)
        scale = np.asarray(scale, dtype=np.float64)
        if mean.ndim != 1 or mean.shape != scale.shape or mean.size == 0:
            raise ValueError(
                f"mean and scale must be equal-length 1-D arrays, got {mean.shape}, {scale.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("mean must be finite and scale finite and > 0")
        self.mean, self.scale = mean, scale

    @property
    def n_features(self) -> int:
        return int(self.mean.size)

    @classmethod
    def fit(cls, X: Any) -> "Standardizer":
        """Learn mean and std per column of X: (n_samples, n_features), in float64 whatever
        X's precision."""
        X = np.asarray(X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X must have shape (n >= 1, n_features >= 1), got {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinite values")
        scale = X.std(axis=0, dtype=np.float64)
        # A constant column carries no information; dividing by 1 keeps it finite (all zero).
        scale[scale == 0] = 1.0
        return cls(X.mean(axis=0, dtype=np.float64), scale)

    def _check(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.dtype != np.float32:  # float32 stays float32 (half the memory); the rest float64
            X = X.astype(np.float64, copy=False)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X must have shape (n, {self.n_features}), got {X.shape}")
        return X

    def transform(self, X: Any) -> np.ndarray:
        """Return (X - mean) / scale in X's precision (float32 or float64). X: (n, n_features)."""
        X = self._check(X)
        return (X - self.mean.astype(X.dtype)) / self.scale.astype(X.dtype)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Return X * scale + mean, undoing transform. X: (n, n_features)."""
        return self._check(X) * self.scale + self.mean

    def to_dict(self) -> dict[str, list[float]]:
        """Return {"mean": [...], "scale": [...]} as JSON-ready lists."""
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Standardizer":
        """Rebuild from to_dict() output."""
        if not isinstance(d, dict) or not {"mean", "scale"} <= set(d):
            raise ValueError('expected a dict with the keys "mean" and "scale"')
        return cls(d["mean"], d["scale"])

    def __repr__(self) -> str:
        return f"Standardizer(n_features={self.n_features})"
