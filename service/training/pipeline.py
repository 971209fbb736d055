"""The one training function shared by the offline command and the training jobs."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model_store import CorruptArtifact, ModelNotFound, ModelStore, VersionNotFound

from ..data.datasets import Dataset, DatasetError
from ..data.features import FeatureSet, FeatureSpec
from ..nn import MLP, OUTPUT_FOR_LOSS, Standardizer, fit
from .metadata import TASK_FOR_LOSS, ModelMeta
from .plots import loss_curve_png
from .spec import Hyperparameters

HISTORY_POINTS = 200  # loss curve samples kept in model.json


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; nothing is published."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished training run published."""

    model: str
    version: int
    metrics: dict
    promoted: bool
    store: str


Progress = Callable[[int, int, float], None]  # (epoch, epochs, loss)


def feature_specs(data: Dataset) -> list[FeatureSpec]:
    """Type each feature from its training values: 0/1 columns are binary, the rest numeric."""
    specs = []
    for name, column in zip(data.features, data.X.T, strict=True):
        binary = bool(np.isin(column, (0.0, 1.0)).all())
        specs.append(
            FeatureSpec(
                name=name,
                type="binary" if binary else "numeric",
                min=float(column.min()),
                max=float(column.max()),
                values=[0, 1] if binary else None,
            )
        )
    return specs


def encode_target(data: Dataset, loss: str) -> tuple[np.ndarray, list | None]:
    """Turn the raw target into what the loss expects, with the class values if any."""
    y = data.y
    if loss == "mse":
        return y, None
    classes = np.unique(y)
    if classes.size < 2:
        raise DatasetError(f"target {data.target!r} has only one class; need at least two")
    if loss == "bce":
        if not np.isin(classes, (0.0, 1.0)).all():
            raise DatasetError(
                f"target {data.target!r} must be 0 or 1 for loss 'bce'; use 'cce' for more classes"
            )
        return y, [0, 1]
    if not np.array_equal(classes, np.round(classes)):
        raise DatasetError(f"target {data.target!r} must hold whole-number classes for loss 'cce'")
    return np.searchsorted(classes, y), [int(c) for c in classes]


def check_features(store: ModelStore, name: str, specs: list[FeatureSpec]) -> None:
    """Refuse data whose features differ from the model's current version."""
    try:
        current = ModelMeta.model_validate(store.read_meta(name, store.current_version(name)))
    except (ModelNotFound, VersionNotFound, CorruptArtifact, ValueError):
        return  # nothing trustworthy to compare with: the new version defines the features
    have = [f.name for f in current.features]
    got = [f.name for f in specs]
    if have != got:
        missing = [f for f in have if f not in got]
        extra = [f for f in got if f not in have]
        detail = f"missing {missing}, unexpected {extra}" if missing or extra else "order differs"
        raise DatasetError(f"features do not match model {name!r} (expects {have}): {detail}")


def _split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_val = round(n * fraction)
    if fraction > 0 and n_val == 0:
        n_val = 1
    if n - n_val < 1:
        raise DatasetError(f"validation split {fraction} leaves no training rows out of {n}")
    order = rng.permutation(n)
    return order[n_val:], order[:n_val]


def _metrics(net: MLP, X: np.ndarray, y: np.ndarray, loss: str, split: str) -> dict:
    out = net.predict(X)
    metrics: dict = {"evaluated_on": split, "rows": int(X.shape[0])}
    if loss == "mse":
        err = out[:, 0] - y
        metrics["rmse"] = float(np.sqrt(np.mean(err**2)))
        metrics["mae"] = float(np.mean(np.abs(err)))
    else:
        metrics["accuracy"] = float(np.mean(net.class_indices(out) == y))
    return metrics


def fingerprint(data: Dataset) -> dict:
    """Identify the training data without storing it."""
    digest = hashlib.sha256()
    digest.update(",".join([*data.features, data.target]).encode())
    digest.update(np.ascontiguousarray(data.X, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(data.y, dtype=np.float64).tobytes())
    return {"sha256": digest.hexdigest(), "rows": int(data.X.shape[0])}


def train_model(
    data: Dataset,
    params: Hyperparameters,
    store: ModelStore,
    name: str,
    *,
    promote: bool = True,
    progress: Progress | None = None,
    source: str = "",
) -> TrainResult:
    """Fit a network on `data` and publish it as the next version of `name`."""
    specs = feature_specs(data)
    check_features(store, name, specs)
    y, classes = encode_target(data, params.loss)
    rng = np.random.default_rng(params.seed)
    train_idx, val_idx = _split(len(y), params.validation_split, rng)
    inputs = FeatureSet(specs).encode(list(data.X.T))  # the rule serving applies to requests
    scaler = Standardizer.fit(inputs[train_idx])
    X = scaler.transform(inputs)
    n_out = len(classes) if params.loss == "cce" else 1
    net = MLP(
        X.shape[1],
        params.hidden,
        n_out,
        activation=params.activation,
        output=OUTPUT_FOR_LOSS[params.loss],
        rng=rng,
        dtype=params.dtype,
    )
    validation = (X[val_idx], y[val_idx]) if val_idx.size else None

    def on_epoch(epoch: int, loss: float) -> None:
        if not np.isfinite(loss):
            raise TrainingDiverged(
                f"training diverged at epoch {epoch} (loss {loss}); try a lower learning rate"
            )
        if progress is not None:
            progress(epoch, params.epochs, loss)

    started = time.perf_counter()
    # Divergence overflows before the loss turns inf; on_epoch reports it as an error instead.
    with np.errstate(over="ignore", invalid="ignore"):
        history = fit(
            net,
            X[train_idx],
            y[train_idx],
            loss=params.loss,
            optimizer=params.optimizer,
            learning_rate=params.learning_rate,
            epochs=params.epochs,
            batch_size=params.batch_size,
            momentum=params.momentum,
            weight_decay=params.weight_decay,
            rng=rng,
            validation_data=validation,
            patience=params.patience if validation is not None else None,
            callback=on_epoch,
        )
    seconds = time.perf_counter() - started
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(net.predict(X)).all()
    if not finite:  # serving would have to refuse every answer this network gives
        raise TrainingDiverged(
            "training produced a network whose outputs are not finite on its own data; "
            "try a lower learning rate"
        )
    idx, split = (val_idx, "validation") if val_idx.size else (train_idx, "training")
    metrics = _metrics(net, X[idx], y[idx], params.loss, split)
    metrics["final_loss"] = float(history.loss[-1])
    step = max(1, len(history.loss) // HISTORY_POINTS)
    meta = ModelMeta(
        features=specs,
        target=data.target,
        task=TASK_FOR_LOSS[params.loss],
        classes=classes,
        architecture=net.config(),
        normalisation=scaler.to_dict(),
        hyperparameters=params.model_dump(),
        data={**fingerprint(data), "source": source},
        metrics=metrics,
        history={
            "epochs_run": history.epochs_run,
            "best_epoch": history.best_epoch,
            "seconds": round(seconds, 4),
            "loss_every": step,
            "loss": [float(v) for v in history.loss[::step]],
            "val_loss": [float(v) for v in history.val_loss[::step]],
        },
    )
    png = loss_curve_png(history.loss, history.val_loss, f"{name}: {params.loss} loss")
    attachments = {"loss.png": png} if png else None
    version = store.publish(
        name, net.get_weights(), meta.to_store(), promote=promote, attachments=attachments
    )
    return TrainResult(name, version, metrics, promote, str(store.root))
