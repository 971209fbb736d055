"""The evaluate stage: a version's out-of-sample metrics, its baseline's on the same rows, the
current version's where it is comparable, and what each input column is worth.

Every number comes from rows the scored model never trained on (cross-validation folds or the
holdout rows), except when the data was too small to hold any out: then they say "training".
Permutation importance: how much the primary metric worsens when one input column's values
are shuffled among the scored rows, averaged over the folds and a few shuffles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_store import Store, StoreError

from ..data.features import FeatureError
from . import evaluation, validation
from .evaluation import Answers
from .fitting import Fitted, Model
from .metadata import Baseline, Importance, Metrics, ModelMeta, Scores
from .model import TrainedModel
from .promotion import PRIMARY

SHUFFLES = 3  # permutations per column and fold for the importance


@dataclass(frozen=True)
class Evaluation:
    metrics: Metrics
    baseline: Baseline
    current: tuple[int, Scores] | None  # the current version and its scores on the same rows
    importance: list[Importance]


def evaluate(
    prepared, fitted: Fitted, current: ModelMeta | None, store: Store, name: str
) -> Evaluation:
    """Score the fold models, the baseline and the current version on the same scored rows."""
    target, inputs = prepared.target, prepared.inputs
    models = fitted.folds or [fitted.final]
    scored = [rows for _, rows in fitted.plan.folds]
    k = len(target.classes or [])
    y = target.y * target.scale + target.mean if target.task == "regression" else target.y
    new = [m.answers(inputs[rows], target) for m, rows in zip(models, scored, strict=True)]
    trivial = [
        evaluation.baseline(target.task, y[m.rows], len(rows), k)
        for m, rows in zip(models, scored, strict=True)
    ]
    rows = np.concatenate(scored)
    key = PRIMARY[target.task]
    folds = fitted.plan.k if fitted.plan.method == "cross_validation" else None
    per_fold, base_fold = _spread(new, trivial, scored, y, k, key)
    metrics = Metrics(
        evaluated_on=fitted.plan.method,
        rows=int(rows.size),
        folds=folds,
        fold_scores=per_fold,
        final_loss=float(fitted.final.history.loss[-1]),
        **evaluation.scores(evaluation.join(new), y[rows], k),
    )
    baseline = Baseline(
        kind=evaluation.BASELINE_KIND[target.task],
        fold_scores=base_fold,
        **evaluation.scores(evaluation.join(trivial), y[rows], k),
    )
    mine = _current_on(store, name, current, prepared, rows, y)
    importance = permutation_importance(prepared, models, scored, y, key)
    return Evaluation(metrics, baseline, mine, importance)


def _spread(
    new: list[Answers], trivial: list[Answers], scored: list[np.ndarray], y, k: int, key: str
) -> tuple[list[float] | None, list[float] | None]:
    """Return the primary metric of the model and of the baseline per fold; one holdout set is
    cut into FOLDS parts, so its spread is measured the same way."""
    if len(scored) == 1 and len(scored[0]) >= 2 * validation.FOLDS:
        parts = np.array_split(np.arange(len(scored[0])), validation.FOLDS)
        new = [new[0].take(p) for p in parts]
        trivial = [trivial[0].take(p) for p in parts]
        scored = [scored[0][p] for p in parts]
    if len(scored) < 2:  # the training rows: no spread to measure
        return None, None
    model = [evaluation.scores(a, y[r], k)[key] for a, r in zip(new, scored, strict=True)]
    base = [evaluation.scores(a, y[r], k)[key] for a, r in zip(trivial, scored, strict=True)]
    return model, base


def _current_on(
    store: Store, name: str, meta: ModelMeta | None, prepared, rows: np.ndarray, y: np.ndarray
) -> tuple[int, Scores] | None:
    """Score the current version on the same rows, when it takes the same features and task."""
    target = prepared.target
    if meta is None or meta.task != target.task or meta.classes != target.classes:
        return None
    if [f.name for f in meta.features] != [s.name for s in prepared.specs]:
        return None
    try:
        current = TrainedModel(store.load(name, meta.version))
        X = current.feature_set.encode([c[rows] for c in prepared.data.columns])
    except (StoreError, ValueError, KeyError, FeatureError):
        return None  # e.g. a category the current version never saw: not comparable
    out = current.forward(X)
    if not np.isfinite(out).all():
        return None
    if target.task == "regression":
        answers = Answers(values=out[:, 0])
    else:
        probs = evaluation.class_probabilities(out)
        answers = Answers(probs=probs, predicted=current.net.class_indices(out))
    scores = evaluation.scores(answers, y[rows], len(meta.classes or []))
    return meta.version, Scores(**scores)


def permutation_importance(
    prepared, models: list[Model], scored: list[np.ndarray], y: np.ndarray, key: str
) -> list[Importance]:
    """Return each input column's importance, most important first."""
    target, inputs = prepared.target, prepared.inputs
    k = len(target.classes or [])
    blocks = np.cumsum([0] + [s.width for s in prepared.specs])
    rng = np.random.default_rng(0)
    increases = np.zeros((len(prepared.specs), len(models) * SHUFFLES))
    for f, (model, rows) in enumerate(zip(models, scored, strict=True)):
        X = inputs[rows]
        before = evaluation.scores(model.answers(X, target), y[rows], k)[key]
        for j in range(len(prepared.specs)):
            lo, hi = blocks[j], blocks[j + 1]
            for s in range(SHUFFLES):
                shuffled = X.copy()
                shuffled[:, lo:hi] = X[rng.permutation(len(rows)), lo:hi]
                after = evaluation.scores(model.answers(shuffled, target), y[rows], k)[key]
                increases[j, f * SHUFFLES + s] = after - before
    found = [
        Importance(feature=spec.name, increase=float(row.mean()), spread=float(row.std()))
        for spec, row in zip(prepared.specs, increases, strict=True)
    ]
    return sorted(found, key=lambda i: -i.increase)
