"""What a stored model version says about itself: training writes it, serving and V2 read it.

`ModelMeta` is the service's part of model.json (the store adds format, version, checksums).
Versions written before this type existed (0/1 classes stored as 0.0 and 1.0, no `values` on
binary features) validate as they are: `_upgrade` fills what they lack.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from ..data.features import FeatureSpec, Label
from .promotion import Policy
from .spec import StoredHyperparameters

Task = Literal["binary", "multiclass", "regression"]
TASK_FOR_LOSS: dict[str, Task] = {"bce": "binary", "cce": "multiclass", "mse": "regression"}
STORE_FIELDS = {"model", "version", "created_at"}  # written by the store, not by training


class Architecture(BaseModel):
    """The network's shape, as service.nn.MLP.config() returns it."""

    n_inputs: int
    hidden: list[int]
    n_outputs: int
    activation: str
    output: str
    dtype: str = "float64"


class Normalisation(BaseModel):
    """The Standardizer fitted on the training rows: one mean and scale per input column."""

    mean: list[float]
    scale: list[float]


class TargetScaling(BaseModel):
    """Regression: the network learns (y - mean) / scale; answers are in y's own units."""

    mean: float
    scale: float


class DataSummary(BaseModel):
    """Which data trained the version, without keeping it."""

    sha256: str
    rows: int = Field(description="Rows used (after dropping those without a target).")
    source: str = ""
    dropped: int = Field(0, description="Rows left out because their target was missing.")
    excluded: list[str] = Field([], description="Columns left out on request.")


class Scores(BaseModel):
    """Metrics of some outputs on some rows; a field a task has no use for is left out."""

    model_config = ConfigDict(extra="allow", frozen=True)

    accuracy: float | None = None
    balanced_accuracy: float | None = None
    log_loss: float | None = Field(None, description="Classification's primary metric.")
    class_counts: list[int] | None = Field(None, description="Rows of each class, in order.")
    rmse: float | None = Field(None, description="Regression's primary metric (target units).")
    mae: float | None = None
    r2: float | None = None

    @model_serializer(mode="wrap")
    def _without_unset(self, handler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class Metrics(Scores):
    """A version's metrics and which rows they were measured on."""

    evaluated_on: str = Field(
        description="cross_validation (out-of-fold rows), holdout (rows held out of training), "
        "training (too few rows to hold any out); validation in versions from before."
    )
    rows: int = Field(description="How many rows the metrics were measured on.")
    folds: int | None = Field(None, description="cross_validation: the number of folds.")
    fold_scores: list[float] | None = Field(
        None, description="The primary metric on each fold (holdout: on each fifth of its rows)."
    )
    final_loss: float | None = Field(None, description="Training loss at the last epoch.")


class Baseline(Scores):
    """The trivial model's metrics on the same rows as the version's."""

    kind: str = Field(description="majority class (classification) or mean (regression).")
    fold_scores: list[float] | None = Field(None, description="The primary metric on each fold.")


class Importance(BaseModel):
    """What one input column is worth: the primary metric's increase when it is shuffled."""

    model_config = ConfigDict(frozen=True)

    feature: str
    increase: float = Field(description="Mean increase of the log loss (or RMSE) when shuffled.")
    spread: float = Field(description="Standard deviation of that increase over folds and draws.")


class Promotion(BaseModel):
    """The promotion policy a version was trained under, and what it decided."""

    model_config = ConfigDict(frozen=True)

    policy: Policy
    promoted: bool
    reason: str
    compared_with: int | None = Field(None, description="The current version it was held to.")
    current_metrics: Scores | None = Field(None, description="That version's on the same rows.")


class HistorySummary(BaseModel):
    """The loss curve, thinned to at most a few hundred points."""

    epochs_run: int
    best_epoch: int | None = None
    seconds: float = 0.0
    loss_every: int = 1
    loss: list[float] = []
    val_loss: list[float] = []


class ModelMeta(BaseModel):
    """The service metadata of one model version."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str = Field("", description="Set by the store.")
    version: int = Field(0, description="Set by the store.")
    created_at: str = Field("", description="Set by the store.")
    features: list[FeatureSpec]
    target: str
    task: Task
    classes: list[Label] | None = Field(None, description="Class labels in output order.")
    target_scaling: TargetScaling | None = None
    architecture: Architecture
    normalisation: Normalisation
    hyperparameters: StoredHyperparameters
    data: DataSummary
    metrics: Metrics
    baseline: Baseline | None = Field(None, description="The trivial model on the same rows.")
    promotion: Promotion | None = Field(None, description="The policy and its decision.")
    importance: list[Importance] = Field([], description="Permutation importance per column.")
    history: HistorySummary

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, doc: Any) -> Any:
        """Read documents written before labels kept their type: 1.0 was the class 1."""
        if isinstance(doc, dict) and doc.get("classes"):
            classes = doc["classes"]
            if all(isinstance(c, float) and c.is_integer() for c in classes):
                doc = {**doc, "classes": [int(c) for c in classes]}
        return doc

    def to_store(self) -> dict[str, Any]:
        """Return the dict the store publishes (without the fields the store sets)."""
        return self.model_dump(mode="json", exclude=STORE_FIELDS)
