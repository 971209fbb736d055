"""What a stored model version says about itself: training writes it, serving and V2 read it.

`ModelMeta` is the service's part of model.json (the store adds format, version, checksums).
Versions written before this type existed (0/1 classes stored as 0.0 and 1.0, no `values` on
binary features) validate as they are: `_upgrade` fills what they lack.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..data.features import FeatureSpec, Label

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


class History(BaseModel):
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
    hyperparameters: dict[str, Any] = {}
    data: DataSummary
    metrics: dict[str, Any] = Field({}, description="On the rows `evaluated_on` names.")
    baseline: dict[str, Any] = Field({}, description="The trivial model on the same rows.")
    promotion: dict[str, Any] | None = Field(None, description="The policy and its decision.")
    history: History

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
