"""The response bodies, as pydantic models: routes build their answers with them and the
OpenAPI document describes them from the same classes. Request bodies live beside the code
that uses them (the training spec, V2 envelopes, per-model predict validators)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from ..data.features import FeatureSpec, Label
from ..jobs.state import JobStatus  # noqa: F401 - the job record, described once, with the jobs
from ..training.metadata import (
    Architecture,
    Baseline,
    DataSummary,
    Importance,
    Metrics,
    ModelMeta,
    Promotion,
    TargetScaling,
    Task,
)
from ..training.spec import StoredHyperparameters


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error response has this shape."""

    error: str = Field(description="Human readable message.")
    code: str = Field(description="Machine readable code, e.g. validation_error.")
    details: list[ErrorDetail] = []
    request_id: str


class Prediction(BaseModel):
    label: Label | None = Field(None, description="Predicted class (classification).")
    probability: float | None = Field(
        None,
        description="Binary: probability of the positive class (the model card's "
        "`classes[1]`). Multiclass: probability of the predicted label.",
    )
    probabilities: list[float] | None = Field(None, description="Multiclass: one per class.")
    warnings: list[str] | None = Field(
        None,
        description="Values never seen in training, scored as unknown (the training average).",
    )
    prediction: float | None = Field(None, description="Regression output.")


class PredictResponse(Prediction):
    """A single-row prediction, or `predictions` for a batch (encoded with orjson: fast)."""

    model: str
    version: int
    predictions: list[Prediction] | None = None


class ModelSummary(BaseModel):
    name: str
    current_version: int | None
    versions: list[int]
    serving_version: int | None = Field(description="Version this process serves.")
    error: str | None = Field(None, description="Why the current version is not served.")


class ModelList(BaseModel):
    models: list[ModelSummary]
    default_model: str | None = Field(
        description="The model POST /predict uses (NNS_DEFAULT_MODEL, else the store's only one)."
    )


class LossCurve(BaseModel):
    """The published model's loss per epoch, thinned: one point every `every` epochs."""

    every: int
    loss: list[float]
    val_loss: list[float] = Field(description="On its early-stopping rows; empty without them.")


class TrainingSummary(BaseModel):
    hyperparameters: StoredHyperparameters
    data: DataSummary
    epochs_run: int | None
    best_epoch: int | None
    seconds: float | None
    final_loss: float | None
    curve: LossCurve


class ModelCard(BaseModel):
    """What a client needs to call a model version, and how it was trained."""

    name: str
    version: int
    current_version: int | None
    task: Task
    features: list[FeatureSpec]
    target: str
    classes: list[Label] | None
    target_scaling: TargetScaling | None = Field(
        None,
        description="Regression: the training target's mean and scale (answers are in its units).",
    )
    architecture: Architecture
    metrics: Metrics
    training: TrainingSummary
    created_at: str
    load_error: str | None = Field(None, description="Set when a newer CURRENT failed to load.")
    importance: list[Importance] = Field(
        [], description="What each input column is worth (permutation importance), most first."
    )

    @classmethod
    def of(cls, meta: ModelMeta, current_version: int | None, load_error: str | None) -> ModelCard:
        """Return the card of a stored version's metadata."""
        history = meta.history
        return cls(
            name=meta.model,
            version=meta.version,
            current_version=current_version,
            task=meta.task,
            features=meta.features,
            target=meta.target,
            classes=meta.classes,
            target_scaling=meta.target_scaling,
            architecture=meta.architecture,
            metrics=meta.metrics,
            training=TrainingSummary(
                hyperparameters=meta.hyperparameters,
                data=meta.data,
                epochs_run=history.epochs_run,
                best_epoch=history.best_epoch,
                seconds=history.seconds,
                final_loss=meta.metrics.final_loss,
                curve=LossCurve(
                    every=history.loss_every, loss=history.loss, val_loss=history.val_loss
                ),
            ),
            created_at=meta.created_at,
            load_error=load_error,
            importance=meta.importance,
        )


class Live(BaseModel):
    status: Literal["ok"]


class VersionSummary(BaseModel):
    """One stored version, as `GET /models/{name}/versions` compares them."""

    version: int
    current: bool = Field(description="CURRENT names this version.")
    created_at: str
    task: Task | None = None
    metrics: Metrics | None = Field(None, description="On the rows `evaluated_on` names.")
    baseline: Baseline | None = Field(None, description="The trivial model on the same rows.")
    data: DataSummary | None = None
    promotion: Promotion | None = Field(
        None, description="The policy, whether it made the version current, and why."
    )
    error: str | None = Field(None, description="Why the version cannot be read.")


class VersionList(BaseModel):
    name: str
    current_version: int | None
    versions: list[VersionSummary] = Field(description="Newest first.")


class ModelHealth(BaseModel):
    serving_version: int | None


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    models: dict[str, ModelHealth] = {}
    problems: list[str] = []


def _integral(value: Any) -> Any:
    """Turn 3.0 into 3 (an integer to JSON Schema); leave the rest to the strict int check."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class PromoteRequest(BaseModel):
    """PUT /models/{name}/current: unknown fields and coercion ("1" for 1) are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)

    version: Annotated[int, Strict(), BeforeValidator(_integral)] = Field(
        ge=1, description="Version to make current."
    )


class PromoteResponse(BaseModel):
    name: str
    current_version: int
    previous: int | None = Field(description="The version that was current before.")


class PreviewFeature(FeatureSpec):
    description: str = Field(description="The feature in one line, as nns-train prints it.")


class TrainPreview(BaseModel):
    """What a training request would train on (POST /train/preview): nothing is queued."""

    model: str
    columns: list[str] = Field(description="The data's columns as read.")
    target: str | None = Field(None, description="None: a CSV whose target is not chosen yet.")
    task: Task | None = None
    classes: list[Label] | None = None
    rows: int | None = Field(None, description="Rows it would train on.")
    dropped: int = Field(0, description="Rows left out because their target is missing.")
    excluded: list[str] = []
    read_as: dict[str, str] = Field({}, description="How the CSV was read: delimiter, decimal.")
    features: list[PreviewFeature] = []
    current_version: int | None = Field(
        None, description="The version it will be compared with (and whose features it keeps)."
    )

    @classmethod
    def of(cls, model: str, prepared, current_version: int | None) -> TrainPreview:
        """Return the preview of training's prepared data (service.training.pipeline)."""
        data = prepared.data
        features = [
            PreviewFeature(**spec.model_dump(), description=spec.describe())
            for spec in prepared.specs
        ]
        return cls(
            model=model,
            columns=[*data.features, data.target],
            target=data.target,
            task=prepared.target.task,
            classes=prepared.target.classes,
            rows=data.rows,
            dropped=data.dropped,
            excluded=data.source.get("excluded", []),
            read_as={k: v for k, v in data.source.items() if k in ("delimiter", "decimal")},
            features=features,
            current_version=current_version,
        )


class JobList(BaseModel):
    jobs: list[JobStatus] = Field(description="The latest jobs submitted, newest first.")


class JobAccepted(BaseModel):
    job_id: str
    status: Literal["queued"]
