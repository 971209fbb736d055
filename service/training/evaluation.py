"""Honest evaluation: held-out rows (stratified for classes), metrics and trivial baselines.

Metrics are computed on validation rows whenever the spec holds some out (Hyperparameters.
split_for); otherwise on the training rows, and they say so. Every version stores its metrics
beside a baseline measured on the same rows: the majority class for classification, the
training mean for regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.dataset import DatasetError

EPS = 1e-15  # probabilities are clipped to [EPS, 1 - EPS] for the log loss


def split_rows(
    n: int, fraction: float, rng: np.random.Generator, classes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (training rows, validation rows); stratified by class when `classes` is given.

    Each class with two or more rows gives round(fraction * its count) of them to validation,
    at least one and never all, so rare classes appear on both sides.
    """
    if fraction <= 0:
        return rng.permutation(n), np.array([], dtype=np.int64)
    held = np.array([], dtype=np.int64)
    if classes is not None:  # each class keeps rows on both sides when it has two or more
        held_parts, kept_parts = [], []
        for c in np.unique(classes):
            rows = rng.permutation(np.flatnonzero(classes == c))
            k = min(max(round(len(rows) * fraction), 1), len(rows) - 1) if len(rows) > 1 else 0
            held_parts.append(rows[:k])
            kept_parts.append(rows[k:])
        held = rng.permutation(np.concatenate(held_parts))
        kept = rng.permutation(np.concatenate(kept_parts))
    if held.size == 0:  # no class has two rows (or no classes): a plain random split
        order = rng.permutation(n)
        n_val = max(1, round(n * fraction))
        held, kept = order[:n_val], order[n_val:]
    if kept.size == 0:
        raise DatasetError(f"validation split {fraction} leaves no training rows out of {n}")
    return kept, held


def class_probabilities(out: np.ndarray) -> np.ndarray:
    """Return a probability per class: (n, 1) P(class 1) (sigmoid) or (n, k) -> (n, k)."""
    return np.column_stack([1 - out[:, 0], out[:, 0]]) if out.shape[1] == 1 else out


def _class_metrics(full: np.ndarray, predicted: np.ndarray, y: np.ndarray, k: int) -> dict:
    counts = np.bincount(y, minlength=k)
    recalls = [
        float(np.mean(predicted[y == c] == c)) for c in range(k) if counts[c] > 0
    ]  # fmt: skip
    chosen = np.clip(full[np.arange(len(y)), y], EPS, 1 - EPS)
    return {
        "accuracy": float(np.mean(predicted == y)),
        "balanced_accuracy": float(np.mean(recalls)),
        "log_loss": float(-np.mean(np.log(chosen))),
        "class_counts": counts.tolist(),
    }


def regression_metrics(predicted: np.ndarray, y: np.ndarray) -> dict:
    """Return rmse, mae and r2 in the target's units. predicted, y: (n,)."""
    err = predicted - y
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(np.sum(err**2)) / total if total > 0 else 0.0
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": r2,
    }


@dataclass(frozen=True)
class Answers:
    """What a model answered for some rows, in the form the metrics take.

    Classification: probs (n, k), a probability per class, and predicted (n,), the class index
    it answers. Regression: values (n,) in the target's units.
    """

    probs: np.ndarray | None = None
    predicted: np.ndarray | None = None
    values: np.ndarray | None = None

    def take(self, rows: np.ndarray) -> Answers:
        """Return the answers for `rows` (positions in these answers)."""
        if self.values is not None:
            return Answers(values=self.values[rows])
        return Answers(probs=self.probs[rows], predicted=self.predicted[rows])


def join(parts: list[Answers]) -> Answers:
    """Concatenate answers for disjoint sets of rows, in order."""
    if parts[0].values is not None:
        return Answers(values=np.concatenate([p.values for p in parts]))
    probs = np.concatenate([p.probs for p in parts])
    return Answers(probs=probs, predicted=np.concatenate([p.predicted for p in parts]))


def scores(answers: Answers, y: np.ndarray, n_classes: int) -> dict:
    """Return the metrics of `answers` against y: (n,) class indices or target values."""
    if answers.values is not None:
        return regression_metrics(answers.values, y)
    return _class_metrics(answers.probs, answers.predicted, y.astype(np.int64), n_classes)


def baseline(task: str, y_train: np.ndarray, n: int, n_classes: int) -> Answers:
    """Return the trivial model's answers for n rows, learnt from the training rows' y.

    Classification: always the training majority class, with the training class frequencies as
    probabilities, each count plus one (Laplace): a class a fold's training rows lack is not
    scored as impossible, which would inflate the baseline's log loss and flatter the model.
    Regression: always the training mean (y in the target's units).
    """
    if task == "regression":
        return Answers(values=np.full(n, float(y_train.mean())))
    counts = np.bincount(y_train.astype(np.int64), minlength=n_classes) + 1.0
    freq = counts / counts.sum()
    return Answers(probs=np.tile(freq, (n, 1)), predicted=np.full(n, int(freq.argmax())))


BASELINE_KIND = {"regression": "mean", "binary": "majority class", "multiclass": "majority class"}
