"""The fit stage: the models a version's judgement needs (one per fold), then the one it publishes.

Each model scales on its own training rows and, when they are enough, stops early on an inner
split of them (Hyperparameters.split_for): the rows that later score it play no part. With
cross-validation the published model trains on every row for the epochs the folds chose.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..nn import MLP, OUTPUT_FOR_LOSS, Standardizer, fit
from ..nn.fit import History
from . import validation
from .evaluation import Answers, class_probabilities, split_rows
from .spec import Hyperparameters
from .task import Target

Progress = Callable[[int, int, float], None]  # (epoch, epochs, loss)


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; nothing is published."""


@dataclass(frozen=True)
class Model:
    """One trained network with the rows it learnt from."""

    net: MLP
    scaler: Standardizer
    history: History
    rows: np.ndarray  # the rows it trained on (its inner early-stopping rows included)
    split: float  # the share of them held out for early stopping
    epochs: int  # the most epochs it was allowed

    def answers(self, inputs: np.ndarray, target: Target) -> Answers:
        """Return its answers for encoded inputs: (n, width), before scaling."""
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.net.predict(self.scaler.transform(inputs))
        if target.task == "regression":
            return Answers(values=out[:, 0] * target.scale + target.mean)
        return Answers(probs=class_probabilities(out), predicted=self.net.class_indices(out))


@dataclass(frozen=True)
class Fitted:
    """The fold models that judge the version and the model it publishes."""

    plan: validation.Plan
    folds: list[Model]  # one per plan fold; empty when judged on the training rows
    final: Model
    seconds: float


def fit_models(
    params: Hyperparameters, target: Target, inputs: np.ndarray, progress: Progress | None
) -> Fitted:
    """Train the fold models of the evaluation plan, then the model to publish."""
    rng = np.random.default_rng(params.seed)
    strata = target.y.astype(np.int64) if target.task != "regression" else None
    plan = validation.plan(len(target.y), rng, strata)
    counter = _Counter(progress, _budget(params, plan))
    started = time.perf_counter()
    folds = [] if plan.method == "training" else [
        train_one(params, target, inputs, rows, rng, counter) for rows, _ in plan.folds
    ]  # fmt: skip
    if plan.final is None:  # holdout: the model that was scored is the one published
        final = folds[0]
    else:
        epochs = _chosen_epochs(params, folds) if folds else None
        final = train_one(params, target, inputs, plan.final, rng, counter, epochs)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(final.net.predict(final.scaler.transform(inputs))).all()
    if not finite:  # serving would have to refuse the answers it gives
        raise TrainingDiverged(
            "training produced a network whose outputs are not finite on its own data; "
            "try a lower learning rate"
        )
    return Fitted(plan, folds, final, time.perf_counter() - started)


def _budget(params: Hyperparameters, plan: validation.Plan) -> int:
    """Return the most epochs the plan's fits may run in all (for progress reports)."""
    folds = [] if plan.method == "training" else [rows for rows, _ in plan.folds]
    total = sum(params.epochs_for(params.split_for(len(rows)) > 0) for rows in folds)
    if plan.final is not None:
        total += max([params.epochs_for(False), *(params.epochs_for(True) for _ in folds[:1])])
    return total


def _chosen_epochs(params: Hyperparameters, folds: list[Model]) -> int:
    """Return the epochs the folds chose: the median of their best epochs, if they stopped
    early, else the epochs they ran."""
    best = [m.history.best_epoch for m in folds if m.history.best_epoch is not None]
    if len(best) == len(folds):
        return max(1, int(np.median(best)))
    return max(m.epochs for m in folds)


def train_one(
    params: Hyperparameters,
    target: Target,
    inputs: np.ndarray,
    rows: np.ndarray,
    rng: np.random.Generator,
    counter: _Counter,
    epochs: int | None = None,
) -> Model:
    """Train one network on `rows`; `epochs` given: exactly that many, no early stopping."""
    split = 0.0 if epochs is not None else params.split_for(len(rows))
    strata = target.y[rows] if target.task != "regression" else None
    fit_rows, stop_rows = split_rows(len(rows), split, rng, strata)
    fit_rows, stop_rows = rows[fit_rows], rows[stop_rows]
    scaler = Standardizer.fit(inputs[fit_rows])
    n_out = len(target.classes) if target.task == "multiclass" else 1
    net = MLP(
        inputs.shape[1], params.hidden, n_out, activation=params.activation,
        output=OUTPUT_FOR_LOSS[target.loss], rng=rng, dtype=params.dtype,
    )  # fmt: skip
    stop = (scaler.transform(inputs[stop_rows]), target.y[stop_rows]) if stop_rows.size else None
    epochs = epochs or params.epochs_for(stop is not None)
    # Divergence overflows before the loss turns inf; the counter reports it as an error instead.
    with np.errstate(over="ignore", invalid="ignore"):
        history = fit(
            net, scaler.transform(inputs[fit_rows]), target.y[fit_rows], loss=target.loss,
            optimizer=params.optimizer, learning_rate=params.learning_rate, epochs=epochs,
            batch_size=params.batch_size, momentum=params.momentum,
            weight_decay=params.weight_decay, rng=rng, validation_data=stop,
            patience=params.patience if stop is not None else None,
            callback=counter.epoch,
        )  # fmt: skip
    counter.done(epochs - history.epochs_run)
    return Model(net, scaler, history, rows, split, epochs)


class _Counter:
    """Report progress across all the fits of a version as one count of epochs."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.count = progress, max(total, 1), 0

    def epoch(self, epoch: int, loss: float) -> None:
        if not np.isfinite(loss):
            raise TrainingDiverged(
                f"training diverged at epoch {epoch} (loss {loss}); try a lower learning rate"
            )
        self.count += 1
        self.total = max(self.total, self.count)
        if self.progress is not None:
            self.progress(self.count, self.total, loss)

    def done(self, skipped: int) -> None:
        """Count the epochs a fit did not need (it stopped early) as done."""
        self.count += skipped
