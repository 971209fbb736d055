"""The one training function shared by the offline command and the training jobs.

Data -> column typing -> the feature rule -> target encoding -> held-out split -> fit ->
evaluation against a trivial baseline and the current version -> the promotion gate -> publish.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import orjson

from model_store import CorruptArtifact, ModelNotFound, Store, StoreError, VersionNotFound

from ..data.columns import feature_specs
from ..data.dataset import Dataset, DatasetError
from ..data.features import FeatureError, FeatureSet, FeatureSpec
from ..nn import MLP, OUTPUT_FOR_LOSS, Standardizer, fit
from . import evaluation, promotion
from .metadata import ModelMeta
from .model import TrainedModel
from .plots import loss_curve_png
from .spec import Hyperparameters
from .task import Target, encode_target

HISTORY_POINTS = 200  # loss curve samples kept in model.json


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; nothing is published."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished training run published, and why it is or is not current."""

    model: str
    version: int
    metrics: dict
    promoted: bool
    store: str
    baseline: dict = field(default_factory=dict)
    reason: str = ""
    task: str = ""
    features: list[FeatureSpec] = field(default_factory=list)
    epochs_run: int = 0
    stopped_early: bool = False


Progress = Callable[[int, int, float], None]  # (epoch, epochs, loss)


def check_features(store: Store, name: str, specs: list[FeatureSpec]) -> None:
    """Refuse data whose features differ from the model's current version."""
    current = _current_meta(store, name)
    if current is None:
        return  # nothing trustworthy to compare with: the new version defines the features
    have = [f.name for f in current.features]
    got = [f.name for f in specs]
    if have != got:
        missing = [f for f in have if f not in got]
        extra = [f for f in got if f not in have]
        detail = f"missing {missing}, unexpected {extra}" if missing or extra else "order differs"
        raise DatasetError(f"features do not match model {name!r} (expects {have}): {detail}")


def _current_meta(store: Store, name: str) -> ModelMeta | None:
    try:
        return ModelMeta.model_validate(store.read_meta(name, store.current_version(name)))
    except (ModelNotFound, VersionNotFound, CorruptArtifact, ValueError):
        return None


def fingerprint(data: Dataset) -> dict:
    """Identify the training data without storing it."""
    digest = hashlib.sha256()
    digest.update(",".join([*data.features, data.target]).encode())
    for column in [*data.columns, data.y]:
        if column.dtype.kind == "f":
            digest.update(np.ascontiguousarray(column).tobytes())
        else:
            digest.update(orjson.dumps(column.tolist()))
    return {"sha256": digest.hexdigest(), "rows": data.rows}


def _split_fraction(params: Hyperparameters, rows: int) -> float:
    if params.validation_split is not None:
        return params.validation_split
    return evaluation.DEFAULT_SPLIT if rows >= evaluation.MIN_VALIDATION_ROWS else 0.0


def _evaluate(target: Target, out: np.ndarray, net: MLP, rows: np.ndarray) -> dict:
    """Return the metrics of network outputs `out` on `rows` (regression in target units)."""
    if target.task == "regression":
        predicted = out[:, 0] * target.scale + target.mean
        actual = target.y[rows] * target.scale + target.mean
        return evaluation.regression_metrics(predicted, actual)
    predicted = net.class_indices(out)
    return evaluation.classification_metrics(out, predicted, target.y[rows], len(target.classes))


def _current_on(
    store: Store, name: str, data: Dataset, specs: list[FeatureSpec], target: Target,
    rows: np.ndarray,
) -> tuple[int, dict] | None:  # fmt: skip
    """Evaluate the current version on the same rows, when it takes the same features and task."""
    meta = _current_meta(store, name)
    if meta is None or meta.task != target.task or meta.classes != target.classes:
        return None
    if [f.name for f in meta.features] != [s.name for s in specs]:
        return None
    try:
        current = TrainedModel(store.load(name, meta.version))
        X = current.features.encode([c[rows] for c in data.columns])
    except (StoreError, ValueError, KeyError, FeatureError):
        return None  # e.g. a category the current version never saw: not comparable
    out = current.forward(X)
    if not np.isfinite(out).all():
        return None
    if target.task == "regression":
        actual = target.y[rows] * target.scale + target.mean
        return meta.version, evaluation.regression_metrics(out[:, 0], actual)
    predicted = current.net.class_indices(out)
    metrics = evaluation.classification_metrics(out, predicted, target.y[rows], len(meta.classes))
    return meta.version, metrics


def train_model(
    data: Dataset,
    params: Hyperparameters,
    store: Store,
    name: str,
    *,
    task: str = "auto",
    promote: promotion.Policy | bool = "auto",
    progress: Progress | None = None,
    source: str = "",
    excluded: list[str] | None = None,
) -> TrainResult:
    """Fit a network on `data` and publish it as the next version of `name`."""
    if isinstance(promote, bool):
        promote = "always" if promote else "never"
    specs = feature_specs(data)
    check_features(store, name, specs)
    target = encode_target(data.y, data.target, task, params.loss)
    rng = np.random.default_rng(params.seed)
    strata = target.y if target.task != "regression" else None
    fraction = _split_fraction(params, data.rows)
    train_idx, val_idx = evaluation.split_rows(data.rows, fraction, rng, strata)
    inputs = FeatureSet(specs).encode(data.columns)  # the rule serving applies to requests
    scaler = Standardizer.fit(inputs[train_idx])
    X = scaler.transform(inputs)
    n_out = len(target.classes) if target.task == "multiclass" else 1
    net = MLP(
        X.shape[1],
        params.hidden,
        n_out,
        activation=params.activation,
        output=OUTPUT_FOR_LOSS[target.loss],
        rng=rng,
        dtype=params.dtype,
    )
    validation = (X[val_idx], target.y[val_idx]) if val_idx.size else None
    epochs = params.epochs or (
        evaluation.EPOCHS_WITH_VALIDATION if validation else evaluation.EPOCHS_WITHOUT
    )

    def on_epoch(epoch: int, loss: float) -> None:
        if not np.isfinite(loss):
            raise TrainingDiverged(
                f"training diverged at epoch {epoch} (loss {loss}); try a lower learning rate"
            )
        if progress is not None:
            progress(epoch, epochs, loss)

    started = time.perf_counter()
    # Divergence overflows before the loss turns inf; on_epoch reports it as an error instead.
    with np.errstate(over="ignore", invalid="ignore"):
        history = fit(
            net,
            X[train_idx],
            target.y[train_idx],
            loss=target.loss,
            optimizer=params.optimizer,
            learning_rate=params.learning_rate,
            epochs=epochs,
            batch_size=params.batch_size,
            momentum=params.momentum,
            weight_decay=params.weight_decay,
            rng=rng,
            validation_data=validation,
            patience=params.patience if validation is not None else None,
            callback=on_epoch,
        )
        outputs = net.predict(X)
    seconds = time.perf_counter() - started
    if not np.isfinite(outputs).all():  # serving would have to refuse the answers it gives
        raise TrainingDiverged(
            "training produced a network whose outputs are not finite on its own data; "
            "try a lower learning rate"
        )
    rows, evaluated_on = (val_idx, "validation") if val_idx.size else (train_idx, "training")
    metrics = {"evaluated_on": evaluated_on, "rows": int(rows.size)}
    metrics |= _evaluate(target, outputs[rows], net, rows)
    metrics["final_loss"] = float(history.loss[-1])
    y_units = target.y * target.scale + target.mean if target.task == "regression" else target.y
    baseline = evaluation.baseline(
        target.task, y_units[train_idx], y_units[rows], len(target.classes or [])
    )
    current = _current_on(store, name, data, specs, target, rows)
    decision = promotion.decide(promote, target.task, metrics, baseline, current, evaluated_on)
    step = max(1, len(history.loss) // HISTORY_POINTS)
    scaling = {"mean": target.mean, "scale": target.scale} if target.task == "regression" else None
    meta = ModelMeta(
        features=specs,
        target=data.target,
        task=target.task,
        classes=target.classes,
        target_scaling=scaling,
        architecture=net.config(),
        normalisation=scaler.to_dict(),
        hyperparameters={
            **params.model_dump(),
            "loss": target.loss,
            "validation_split": fraction,
            "epochs": epochs,
        },
        data={
            **fingerprint(data),
            "source": source,
            "dropped": data.dropped,
            "excluded": excluded or [],
        },
        metrics=metrics,
        baseline=baseline,
        promotion={
            "policy": promote,
            "promoted": decision.promote,
            "reason": decision.reason,
            "compared_with": current[0] if current else None,
            "current_metrics": current[1] if current else None,
        },
        history={
            "epochs_run": history.epochs_run,
            "best_epoch": history.best_epoch,
            "seconds": round(seconds, 4),
            "loss_every": step,
            "loss": [float(v) for v in history.loss[::step]],
            "val_loss": [float(v) for v in history.val_loss[::step]],
        },
    )
    png = loss_curve_png(history.loss, history.val_loss, f"{name}: {target.loss} loss")
    attachments = {"loss.png": png} if png else None
    published = store.publish_outcome(
        name, net.get_weights(), meta.to_store(), promote=decision.promote, attachments=attachments
    )
    reason = decision.reason
    if decision.promote and not published.current:
        # Object storage: a concurrent run's newer version became current first.
        reason += f"; not made current: a newer version of {name!r} was promoted first"
    return TrainResult(
        name,
        published.version,
        metrics,
        published.current,
        store.location,
        baseline=baseline,
        reason=reason,
        task=target.task,
        features=specs,
        epochs_run=history.epochs_run,
        stopped_early=history.epochs_run < epochs,
    )
