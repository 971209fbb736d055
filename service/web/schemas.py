"""Request and response schemas: static ones, and predict schemas built from a model's features."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StrictBool,
    Tag,
    TypeAdapter,
    model_validator,
)
from typing_extensions import TypedDict

from ..training.pipeline import Hyperparameters

# A float equal to 0 or 1: JSON Schema (our OpenAPI document) counts 1.0 as an integer, and a
# strict int would refuse it; as fast as the strict int, and rows become float64 anyway.
Binary = Annotated[float, Strict(), Field(ge=0, le=1, multiple_of=1, allow_inf_nan=False)]
Numeric = Annotated[float, Strict(), Field(allow_inf_nan=False)]


def _integral(value: Any) -> Any:
    """Turn 3.0 into 3 (an integer to JSON Schema); leave the rest to the strict int check."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Whole = Annotated[int, Strict(), BeforeValidator(_integral)]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def _shape(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "instances" in value else "row"


def predict_request(model: str, features: list[dict], max_batch: int) -> TypeAdapter:
    """Build the validator of a model's predict body: one row, or {"instances": [rows]}.

    Rows come out as dicts in feature order; error locations start with "row" or "batch".
    """
    fields = {}
    for f in features:
        kind = Binary if f["type"] == "binary" else Numeric
        text = f"{f['type']} feature, trained on [{f['min']:g}, {f['max']:g}]"
        fields[f["name"]] = Annotated[kind, Field(description=text)]
    # Functional TypedDicts: the field names come from data, not code.
    row = TypedDict(f"{_camel(model)}Row", fields)  # type: ignore[misc]
    row.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    rows = Annotated[list[row], Field(min_length=1, max_length=max_batch)]  # type: ignore[valid-type]
    batch = TypedDict(f"{_camel(model)}Batch", {"instances": rows})  # type: ignore[misc]  # noqa: UP013
    batch.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    body = Annotated[
        Annotated[row, Tag("row")] | Annotated[batch, Tag("batch")],  # type: ignore[valid-type]
        Discriminator(_shape),
    ]
    return TypeAdapter(body)


class Closed(BaseModel):
    """A request body: unknown fields and type coercion ("1" for 1) are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


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
    label: int | float | None = Field(None, description="Predicted class (classification).")
    probability: float | None = Field(
        None, description="Binary: P(label 1). Multiclass: probability of the predicted label."
    )
    probabilities: list[float] | None = Field(None, description="Multiclass: one per class.")
    prediction: float | None = Field(None, description="Regression output.")


class PredictResponse(Prediction):
    """A single-row prediction, or `predictions` for a batch."""

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
    default_model: str


class FeatureCard(BaseModel):
    name: str
    type: Literal["binary", "numeric"]
    min: float
    max: float


class ModelCard(BaseModel):
    """What a client needs to call a model version, and how it was trained."""

    name: str
    version: int
    current_version: int | None
    task: Literal["binary", "multiclass", "regression"]
    features: list[FeatureCard]
    target: str
    classes: list[float] | None
    architecture: dict[str, Any]
    metrics: dict[str, Any]
    training: dict[str, Any]
    created_at: str
    load_error: str | None = Field(None, description="Set when a newer CURRENT failed to load.")


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    models: dict[str, Any] = {}
    problems: list[str] = []


class PromoteRequest(Closed):
    version: Whole = Field(ge=1, description="Version to make current.")


# Training jobs: POST /train, GET and DELETE /train/jobs/{id}.

ModelName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]

_NULL = {"type": "null"}
_NO_ROWS = {"rows": _NULL, "target": _NULL}
_NO_MOONS = {"samples": _NULL, "noise": _NULL}
# TrainRequest._one_source in JSON Schema, so the OpenAPI document admits no body it refuses.
TRAIN_SOURCES = [
    {
        "required": ["rows", "target"],
        "properties": {"rows": {"type": "array"}, "target": {"type": "string"}, "dataset": _NULL}
        | _NO_MOONS,
    },
    {"required": ["dataset"], "properties": {"dataset": {"const": "moons"}, **_NO_ROWS}},
    {
        "required": ["dataset"],
        "properties": {"dataset": {"enum": ["diabetes", "xor"]}, **_NO_ROWS, **_NO_MOONS},
    },
]


class TrainRequest(Closed):
    """A training job: inline `rows` with their `target` column, or a built-in `dataset`."""

    model_config = ConfigDict(json_schema_extra={"anyOf": TRAIN_SOURCES})

    model: ModelName = Field(description="Model to train; a new name creates the model.")
    rows: list[dict[str, Numeric]] | None = Field(
        None, min_length=1, description="Training rows: each feature and the target by name."
    )
    target: str | None = Field(None, min_length=1, description="The column of `rows` to predict.")
    dataset: Literal["diabetes", "xor", "moons"] | None = Field(
        None, description="A built-in dataset instead of rows."
    )
    samples: int | None = Field(None, ge=2, description="moons only: rows to draw (500).")
    noise: float | None = Field(
        None, ge=0, le=10, allow_inf_nan=False, description="moons only: noise deviation (0.2)."
    )
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    promote: StrictBool = Field(True, description="Make the new version current.")
    timeout: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Wall-clock budget in seconds (default and maximum: NNS_JOB_TIMEOUT).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> TrainRequest:
        if (self.rows is None) == (self.dataset is None):
            raise ValueError("give either rows (with target) or dataset")
        if self.rows is not None and self.target is None:
            raise ValueError("rows need target: the column to predict")
        if self.dataset is not None and self.target is not None:
            raise ValueError("target only applies to rows; a dataset names its own")
        if self.dataset != "moons" and (self.samples is not None or self.noise is not None):
            raise ValueError("samples and noise only apply to dataset moons")
        return self


class JobAccepted(BaseModel):
    job_id: str
    status: Literal["queued"]


class JobProgress(BaseModel):
    epoch: int
    epochs: int
    loss: float | None


class JobResult(BaseModel):
    model: str
    version: int
    metrics: dict[str, Any]
    promoted: bool


class JobStatus(BaseModel):
    """A training job as every API worker reports it; timestamps are ISO 8601 UTC."""

    job_id: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    model: str
    promote: bool
    progress: JobProgress
    result: JobResult | None = Field(description="Set when the job succeeded.")
    error: str | None = Field(description="Why the job failed or was cancelled.")
    cancel_requested: bool = Field(description="A cancel was asked and the job still runs.")
    created_at: str
    started_at: str | None
    finished_at: str | None
    heartbeat_at: str | None = Field(description="Last sign of life from the trainer.")
