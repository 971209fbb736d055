"""How a model is judged: which rows train it, which rows stop it early and which rows score it.

The rows that score a model never chose its epochs:

* cross_validation (from MIN_CV_ROWS up to MAX_CV_ROWS rows): k stratified folds; each fold's
  model trains on the other folds, with its own early stopping on an inner split of them, and
  is scored on its fold. The published model then trains on every row for the epochs the folds
  chose.
* holdout (above MAX_CV_ROWS): one stratified split into training rows (with their own inner
  early-stopping split) and evaluation rows; the model trained on the former is published.
* training (below MIN_CV_ROWS rows): too few rows to hold any out; the metrics are on the
  training rows and say so, and the gate will not replace a version on them.

A class with a single row is dealt to one fold: the model that does not see it is scored on it,
as on any rare value the future brings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .evaluation import split_rows

Method = Literal["cross_validation", "holdout", "training"]
FOLDS = 5
MIN_CV_ROWS = 10  # fewer rows cannot fill five folds with two rows each
MAX_CV_ROWS = 5000  # see docs/benchmarks.md, "How a model is judged"
HOLDOUT = 0.2  # the share of rows that score a model above MAX_CV_ROWS


@dataclass(frozen=True)
class Plan:
    """Which rows fit and which rows score each model trained for one version."""

    method: Method
    folds: list[tuple[np.ndarray, np.ndarray]]  # (training rows, scoring rows) per model
    final: np.ndarray | None  # rows the published model trains on; None: the holdout's model

    @property
    def k(self) -> int:
        return len(self.folds)


def plan(n: int, rng: np.random.Generator, classes: np.ndarray | None = None) -> Plan:
    """Choose how to judge a model on `n` rows; `classes`: (n,) class indices, if any."""
    everything = np.arange(n)
    if n < MIN_CV_ROWS:
        return Plan("training", [(everything, everything)], everything)
    if n <= MAX_CV_ROWS:
        return Plan("cross_validation", k_folds(n, FOLDS, rng, classes), everything)
    train, scored = split_rows(n, HOLDOUT, rng, classes)
    return Plan("holdout", [(train, scored)], None)


def k_folds(
    n: int, k: int, rng: np.random.Generator, classes: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return k (training rows, scoring rows) pairs; every row is scored exactly once.

    With `classes`, each class's rows are dealt round the folds in a random order, so every
    fold holds about its share of each class.
    """
    fold_of = np.empty(n, dtype=np.int64)
    groups = (
        [np.flatnonzero(classes == c) for c in np.unique(classes)]
        if classes is not None
        else [np.arange(n)]
    )
    start = 0
    for rows in groups:
        rows = rng.permutation(rows)
        fold_of[rows] = (start + np.arange(len(rows))) % k
        start += len(rows)  # the next class starts where this one stopped: folds stay even
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]
