"""The one training function shared by the offline command, the trainer and the bootstrap.

`train_model` runs five named stages on data already loaded (service.training.request.load):
prepare (column typing, the feature rule, target encoding), fit (the fold models that judge the
version and the model it publishes: service.training.fitting), evaluate (out-of-sample metrics,
the baseline and the current version on the same rows, permutation importance:
service.training.judging), decide (the promotion gate) and publish (the new version, current
or not). `prepare` is also the check POST /train runs before it queues a job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model_store import CorruptArtifact, ModelNotFound, Store, VersionNotFound

from ..data.columns import feature_specs
from ..data.dataset import Dataset, DatasetError
from ..data.features import FeatureSet, FeatureSpec
from . import promotion
from .fitting import Fitted, Progress, TrainingDiverged, fit_models
from .judging import Evaluation, evaluate
from .metadata import (
    Baseline,
    DataSummary,
    HistorySummary,
    Importance,
    Metrics,
    ModelMeta,
    Promotion,
)
from .plots import loss_curve_png
from .request import TrainRequest, load
from .spec import StoredHyperparameters, TrainSpec
from .task import Target, encode_target

HISTORY_POINTS = 200  # loss curve samples kept in model.json
__all__ = ["Progress", "TrainingDiverged", "prepare", "run", "train_model"]


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
    importance: list[Importance]


@dataclass(frozen=True)
class Prepared:
    """The data made ready for the network: typed features, the encoded target and inputs."""

    data: Dataset
    specs: list[FeatureSpec]
    target: Target
    inputs: np.ndarray  # (rows, width): the feature rule applied, before scaling


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
    fitted = fit_models(spec.hyperparameters, prepared.target, prepared.inputs, progress)
    current = _current_meta(store, spec.model)
    judged = evaluate(prepared, fitted, current, store, spec.model)
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
    # The rule serving applies to requests, in the precision the network trains in.
    inputs = FeatureSet(specs).encode(data.columns, dtype=spec.hyperparameters.dtype)
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
    final = fitted.final
    title = f"{spec.model}: {prepared.target.loss} loss"
    curve = loss_curve_png(final.history.loss, final.history.val_loss, title)
    published = store.publish_outcome(
        spec.model,
        final.net.get_weights(),
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
        final.history.epochs_run, final.history.epochs_run < final.epochs, result.importance,
    )  # fmt: skip


def _meta(
    spec: TrainSpec, prepared: Prepared, fitted: Fitted, result: Evaluation, decision
) -> ModelMeta:
    target, final, data = prepared.target, fitted.final, prepared.data
    history = final.history
    step = max(1, len(history.loss) // HISTORY_POINTS)
    scaling = {"mean": target.mean, "scale": target.scale} if target.task == "regression" else None
    resolved = {"loss": target.loss, "validation_split": final.split, "epochs": final.epochs}
    current = result.current
    return ModelMeta(
        features=prepared.specs,
        target=data.target,
        task=target.task,
        classes=target.classes,
        target_scaling=scaling,
        architecture=final.net.config(),
        normalisation=final.scaler.to_dict(),
        hyperparameters=StoredHyperparameters(**{**spec.hyperparameters.model_dump(), **resolved}),
        data=DataSummary(
            **data.fingerprint(),
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
        importance=result.importance,
        history=HistorySummary(
            epochs_run=history.epochs_run,
            best_epoch=history.best_epoch,
            seconds=round(fitted.seconds, 4),
            loss_every=step,
            loss=[float(v) for v in history.loss[::step]],
            val_loss=[float(v) for v in history.val_loss[::step]],
        ),
    )
