"""The one training function shared by the offline command, the trainer and the bootstrap.

`train_model` runs five named stages on data already loaded (service.training.request.load):
prepare (column typing, the feature rule, target encoding), fit (split, scale, train the
network), evaluate (metrics and a trivial baseline on held-out rows, and the current version on
the same rows), decide (the promotion gate) and publish (the new version, current or not).
`prepare` is also the check POST /train runs before it queues a job.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import orjson

from model_store import CorruptArtifact, ModelNotFound, Store, StoreError, VersionNotFound

from ..data.columns import feature_specs
from ..data.dataset import Dataset, DatasetError
from ..data.features import FeatureError, FeatureSet, FeatureSpec
from ..nn import MLP, OUTPUT_FOR_LOSS, Standardizer, fit
from ..nn.fit import History
from . import evaluation, promotion
from .metadata import (
    Baseline,
    DataSummary,
    HistorySummary,
    Metrics,
    ModelMeta,
    Promotion,
    Scores,
)
from .model import TrainedModel
from .plots import loss_curve_png
from .request import TrainRequest, load
from .spec import StoredHyperparameters, TrainSpec
from .task import Target, encode_target

HISTORY_POINTS = 200  # loss curve samples kept in model.json


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; nothing is published."""


Progress = Callable[[int, int, float], None]  # (epoch, epochs, loss)


@dataclass(frozen=True)
class TrainResult:
    """What a finished training run published, and why it is or is not current."""

    model: str
    version: int
    metrics: Metrics
    promoted: bool
    store: str
    baseline: Baseline
    reason: str
    task: str
    features: list[FeatureSpec]
    epochs_run: int
    stopped_early: bool


@dataclass(frozen=True)
class Prepared:
    """The data made ready for the network: typed features, the encoded target and inputs."""

    data: Dataset
    specs: list[FeatureSpec]
    target: Target
    inputs: np.ndarray  # (rows, width): the feature rule applied, before scaling


@dataclass(frozen=True)
class Fitted:
    """A trained network and how it got there."""

    net: MLP
    scaler: Standardizer
    history: History
    train_rows: np.ndarray
    eval_rows: np.ndarray  # validation rows; empty when every row trained
    split: float
    epochs: int
    seconds: float
    outputs: np.ndarray  # the network's outputs on every row


@dataclass(frozen=True)
class Evaluation:
    metrics: Metrics
    baseline: Baseline
    current: tuple[int, Scores] | None  # the current version and its scores on the same rows


def run(request: TrainRequest, store: Store, progress: Progress | None = None) -> TrainResult:
    """Load a request's data and train on it: what the trainer and the bootstrap do."""
    return train_model(request, load(request), store, progress)


def train_model(
    spec: TrainSpec, data: Dataset | Prepared, store: Store, progress: Progress | None = None
) -> TrainResult:
    """Fit a network on `data` and publish it as the next version of `spec.model`.

    `data` may come prepared already (nns-train describes it before training).
    """
    prepared = data if isinstance(data, Prepared) else prepare(spec, data, store)
    fitted = fit_network(spec, prepared, progress)
    judged = evaluate(spec.model, prepared, fitted, store)
    decision = promotion.decide(
        spec.promote, prepared.target.task, judged.metrics, judged.baseline, judged.current
    )
    return publish(spec, prepared, fitted, judged, decision, store)


# -- prepare ------------------------------------------------------------------------------


def prepare(spec: TrainSpec, data: Dataset, store: Store) -> Prepared:
    """Type the columns, check them against the model's current version, encode the target."""
    specs = feature_specs(data)
    check_features(store, spec.model, specs)
    target = encode_target(data.y, data.target, spec.task, spec.hyperparameters.loss)
    inputs = FeatureSet(specs).encode(data.columns)  # the rule serving applies to requests
    return Prepared(data, specs, target, inputs)


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


# -- fit ----------------------------------------------------------------------------------


def fit_network(spec: TrainSpec, prepared: Prepared, progress: Progress | None) -> Fitted:
    """Split off validation rows, scale on the training rows, and train the network."""
    params, target = spec.hyperparameters, prepared.target
    rng = np.random.default_rng(params.seed)
    strata = target.y if target.task != "regression" else None
    split = params.split_for(len(target.y))
    train_rows, eval_rows = evaluation.split_rows(len(target.y), split, rng, strata)
    scaler = Standardizer.fit(prepared.inputs[train_rows])
    X = scaler.transform(prepared.inputs)
    n_out = len(target.classes) if target.task == "multiclass" else 1
    net = MLP(
        X.shape[1], params.hidden, n_out, activation=params.activation,
        output=OUTPUT_FOR_LOSS[target.loss], rng=rng, dtype=params.dtype,
    )  # fmt: skip
    validation = (X[eval_rows], target.y[eval_rows]) if eval_rows.size else None
    epochs = params.epochs_for(validation is not None)

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
            net, X[train_rows], target.y[train_rows], loss=target.loss,
            optimizer=params.optimizer, learning_rate=params.learning_rate, epochs=epochs,
            batch_size=params.batch_size, momentum=params.momentum,
            weight_decay=params.weight_decay, rng=rng, validation_data=validation,
            patience=params.patience if validation is not None else None, callback=on_epoch,
        )  # fmt: skip
        outputs = net.predict(X)
    seconds = time.perf_counter() - started
    if not np.isfinite(outputs).all():  # serving would have to refuse the answers it gives
        raise TrainingDiverged(
            "training produced a network whose outputs are not finite on its own data; "
            "try a lower learning rate"
        )
    return Fitted(net, scaler, history, train_rows, eval_rows, split, epochs, seconds, outputs)


# -- evaluate -----------------------------------------------------------------------------


def evaluate(name: str, prepared: Prepared, fitted: Fitted, store: Store) -> Evaluation:
    """Score the new network, the trivial baseline and the current version on the same rows."""
    target = prepared.target
    held_out = fitted.eval_rows.size > 0
    rows = fitted.eval_rows if held_out else fitted.train_rows
    scores = _scores(target, fitted.outputs[rows], fitted.net, rows)
    metrics = Metrics(
        evaluated_on="validation" if held_out else "training",
        rows=int(rows.size),
        final_loss=float(fitted.history.loss[-1]),
        **scores,
    )
    y = target.y * target.scale + target.mean if target.task == "regression" else target.y
    trivial = evaluation.baseline(
        target.task, y[fitted.train_rows], y[rows], len(target.classes or [])
    )
    current = _current_on(store, name, prepared, rows)
    return Evaluation(metrics, Baseline(**trivial), current)


def _scores(target: Target, out: np.ndarray, net: MLP, rows: np.ndarray) -> dict:
    """Return the metrics of network outputs `out` on `rows` (regression in target units)."""
    if target.task == "regression":
        predicted = out[:, 0] * target.scale + target.mean
        actual = target.y[rows] * target.scale + target.mean
        return evaluation.regression_metrics(predicted, actual)
    predicted = net.class_indices(out)
    return evaluation.classification_metrics(out, predicted, target.y[rows], len(target.classes))


def _current_on(
    store: Store, name: str, prepared: Prepared, rows: np.ndarray
) -> tuple[int, Scores] | None:
    """Evaluate the current version on the same rows, when it takes the same features and task."""
    meta, target = _current_meta(store, name), prepared.target
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
        actual = target.y[rows] * target.scale + target.mean
        return meta.version, Scores(**evaluation.regression_metrics(out[:, 0], actual))
    predicted = current.net.class_indices(out)
    scores = evaluation.classification_metrics(out, predicted, target.y[rows], len(meta.classes))
    return meta.version, Scores(**scores)


# -- publish ------------------------------------------------------------------------------


def publish(
    spec: TrainSpec,
    prepared: Prepared,
    fitted: Fitted,
    result: Evaluation,
    decision: promotion.Decision,
    store: Store,
) -> TrainResult:
    """Write the version (weights, metadata, loss curve); current if the decision says so."""
    meta = _meta(spec, prepared, fitted, result, decision)
    curve = loss_curve_png(
        fitted.history.loss, fitted.history.val_loss, f"{spec.model}: {prepared.target.loss} loss"
    )
    published = store.publish_outcome(
        spec.model,
        fitted.net.get_weights(),
        meta.to_store(),
        promote=decision.promote,
        attachments={"loss.png": curve} if curve else None,
    )
    reason = decision.reason
    if decision.promote and not published.current:
        # Object storage: a concurrent run's newer version became current first.
        reason += f"; not made current: a newer version of {spec.model!r} was promoted first"
    return TrainResult(
        spec.model, published.version, result.metrics, published.current, store.location,
        result.baseline, reason, prepared.target.task, prepared.specs,
        fitted.history.epochs_run, fitted.history.epochs_run < fitted.epochs,
    )  # fmt: skip


def _meta(
    spec: TrainSpec, prepared: Prepared, fitted: Fitted, result: Evaluation, decision
) -> ModelMeta:
    target, history, data = prepared.target, fitted.history, prepared.data
    step = max(1, len(history.loss) // HISTORY_POINTS)
    scaling = {"mean": target.mean, "scale": target.scale} if target.task == "regression" else None
    resolved = {"loss": target.loss, "validation_split": fitted.split, "epochs": fitted.epochs}
    current = result.current
    return ModelMeta(
        features=prepared.specs,
        target=data.target,
        task=target.task,
        classes=target.classes,
        target_scaling=scaling,
        architecture=fitted.net.config(),
        normalisation=fitted.scaler.to_dict(),
        hyperparameters=StoredHyperparameters(**{**spec.hyperparameters.model_dump(), **resolved}),
        data=DataSummary(
            **fingerprint(data),
            source=data.source.get("name", ""),
            dropped=data.dropped,
            excluded=data.source.get("excluded", []),
        ),
        metrics=result.metrics,
        baseline=result.baseline,
        promotion=Promotion(
            policy=spec.promote,
            promoted=decision.promote,
            reason=decision.reason,
            compared_with=current[0] if current else None,
            current_metrics=current[1] if current else None,
        ),
        history=HistorySummary(
            epochs_run=history.epochs_run,
            best_epoch=history.best_epoch,
            seconds=round(fitted.seconds, 4),
            loss_every=step,
            loss=[float(v) for v in history.loss[::step]],
            val_loss=[float(v) for v in history.val_loss[::step]],
        ),
    )


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
