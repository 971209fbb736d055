"""The one training function shared by the offline command and the training jobs."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from model_store import CorruptArtifact, ModelNotFound, ModelStore, VersionNotFound

from ..data.datasets import Dataset, DatasetError
from ..nn import MLP, OUTPUT_FOR_LOSS, Standardizer, fit
from .plots import loss_curve_png

TASK_FOR_LOSS = {"bce": "binary", "cce": "multiclass", "mse": "regression"}
HISTORY_POINTS = 200  # loss curve samples kept in model.json


def _integral(value: Any) -> Any:
    """Turn 3.0 into 3 (an integer to JSON Schema); leave the rest to the int check."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Strings parse in lax mode (CSV query values); JSON bodies are validated strictly: no "3".
Count = Annotated[int, BeforeValidator(_integral)]
Positive = Annotated[int, Field(ge=1), BeforeValidator(_integral)]  # this order keeps "minimum"


class Hyperparameters(BaseModel):
    """How to train; each field matches a flag of scripts/train.py."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden: list[Count] = Field([4], description="Hidden layer widths; [] is a perceptron.")
    activation: Literal["sigmoid", "tanh", "relu", "identity"] = "sigmoid"
    loss: Literal["bce", "cce", "mse"] = Field(
        "bce", description="bce: binary classification, cce: multiclass, mse: regression."
    )
    optimizer: Literal["sgd", "adam"] = "adam"
    learning_rate: float = Field(0.05, gt=0, le=10, allow_inf_nan=False)
    epochs: Count = Field(2000, ge=1)
    batch_size: Positive | None = Field(None, description="None trains on the full batch.")
    seed: Count = Field(1, ge=0, le=2**32 - 1)
    validation_split: float = Field(0.0, ge=0, lt=1, allow_inf_nan=False)
    patience: Positive | None = Field(None, description="Early-stopping patience in epochs.")
    momentum: float = Field(0.0, ge=0, lt=1, allow_inf_nan=False)
    weight_decay: float = Field(0.0, ge=0, le=1, allow_inf_nan=False)
    dtype: Literal["float64", "float32"] = "float64"

    @field_validator("hidden")
    @classmethod
    def _positive_widths(cls, widths: list[int]) -> list[int]:
        if any(w < 1 for w in widths):
            raise ValueError("hidden layer widths must be >= 1")
        return widths


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


def feature_specs(data: Dataset) -> list[dict]:
    """Describe each feature for the model card and request validation."""
    specs = []
    for name, column in zip(data.features, data.X.T, strict=True):
        binary = bool(np.isin(column, (0.0, 1.0)).all())
        specs.append(
            {
                "name": name,
                "type": "binary" if binary else "numeric",
                "min": float(column.min()),
                "max": float(column.max()),
            }
        )
    return specs


def encode_target(data: Dataset, loss: str) -> tuple[np.ndarray, list[float] | None]:
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
        return y, [0.0, 1.0]
    if not np.array_equal(classes, np.round(classes)):
        raise DatasetError(f"target {data.target!r} must hold whole-number classes for loss 'cce'")
    return np.searchsorted(classes, y), [float(c) for c in classes]


def check_features(store: ModelStore, name: str, specs: list[dict]) -> None:
    """Refuse data whose features differ from the model's current version."""
    try:
        current = store.read_meta(name, store.current_version(name))
    except (ModelNotFound, VersionNotFound, CorruptArtifact):
        return  # nothing trustworthy to compare with: the new version defines the features
    have = [f["name"] for f in current["features"]]
    got = [f["name"] for f in specs]
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
    scaler = Standardizer.fit(data.X[train_idx])
    X = scaler.transform(data.X)
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
    idx, split = (val_idx, "validation") if val_idx.size else (train_idx, "training")
    metrics = _metrics(net, X[idx], y[idx], params.loss, split)
    metrics["final_loss"] = float(history.loss[-1])
    step = max(1, len(history.loss) // HISTORY_POINTS)
    meta = {
        "features": specs,
        "target": data.target,
        "task": TASK_FOR_LOSS[params.loss],
        "classes": classes,
        "architecture": net.config(),
        "normalisation": scaler.to_dict(),
        "hyperparameters": params.model_dump(),
        "data": {**fingerprint(data), "source": source},
        "metrics": metrics,
        "history": {
            "epochs_run": history.epochs_run,
            "best_epoch": history.best_epoch,
            "seconds": round(seconds, 4),
            "loss_every": step,
            "loss": [float(v) for v in history.loss[::step]],
            "val_loss": [float(v) for v in history.val_loss[::step]],
        },
    }
    png = loss_curve_png(history.loss, history.val_loss, f"{name}: {params.loss} loss")
    attachments = {"loss.png": png} if png else None
    version = store.publish(name, net.get_weights(), meta, promote=promote, attachments=attachments)
    return TrainResult(name, version, metrics, promote, str(store.root))
