"""The training spec: what to train and how, with every default and limit in one place.

`Hyperparameters` holds how to train, with the service's defaults; `TrainSpec` adds which model,
the task and what happens after (promotion, the time budget). Where the data comes from is the
other half of a training request (service/training/request.py). The service's size limits
(NNS_MAX_*) are validators that apply when a `Limits` is in the validation context (HTTP
requests); the offline command passes none. The row limit applies where rows are counted: to
inline rows and moons samples here, to a CSV while it is read (request.load).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from model_store import InvalidName, validate_name

from ..data.datasets import BUILTIN
from ..nn import HIDDEN_ACTIVATIONS
from ..settings import Settings
from .promotion import Policy

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # model_store.validate_name, as JSON Schema


def _model_name(value: str) -> str:
    try:
        return validate_name(value)
    except InvalidName as exc:  # the store's own rule and message; the name is not echoed
        raise PydanticCustomError("model_name", str(exc)) from None


ModelName = Annotated[
    str, AfterValidator(_model_name), Field(json_schema_extra={"pattern": NAME_PATTERN})
]


@dataclass(frozen=True)
class Limits:
    """Sizes one training request may ask for (NNS_MAX_*, NNS_JOB_TIMEOUT)."""

    rows: int
    epochs: int
    layers: int
    width: int
    timeout: float

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(s.max_train_rows, s.max_epochs, s.max_layers, s.max_layer_width, s.job_timeout)


def _limits(info: ValidationInfo) -> Limits | None:
    return (info.context or {}).get("limits")


def over_limit(message: str) -> PydanticCustomError:
    """Return the error a limit raises; its type lets callers tell limits from bad values."""
    return PydanticCustomError("limit", message)


LIMIT_TEXT = {
    "rows": "at most {} rows per job (NNS_MAX_TRAIN_ROWS)",
    "epochs": "at most {} epochs (NNS_MAX_EPOCHS)",
    "layers": "at most {} hidden layers (NNS_MAX_LAYERS)",
    "width": "hidden layers are at most {} wide (NNS_MAX_LAYER_WIDTH)",
    "timeout": "the budget is at most {:g} s (NNS_JOB_TIMEOUT)",
}


def within(limit: str, amount: float | None, info: ValidationInfo) -> None:
    """Refuse `amount` over the named limit, when limits apply (HTTP requests) and it is set."""
    limits = _limits(info)
    if limits is not None and amount is not None and amount > getattr(limits, limit):
        raise over_limit(LIMIT_TEXT[limit].format(getattr(limits, limit)))


def check_rows(n: int, info: ValidationInfo) -> None:
    """Refuse more training rows than NNS_MAX_TRAIN_ROWS allows."""
    within("rows", n, info)


def _integral(value: Any) -> Any:
    """Turn 3.0 into 3 (an integer to JSON Schema); leave the rest to the int check."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _width(value: int, info: ValidationInfo) -> int:
    within("width", value, info)
    return value


# Strings parse in lax mode (flags, CSV query values); JSON bodies are validated strictly.
Count = Annotated[int, BeforeValidator(_integral)]
MAX_COUNT = 2**31 - 1  # beyond any real run; keeps every count a 64-bit JSON integer
Positive = Annotated[int, Field(ge=1, le=MAX_COUNT), BeforeValidator(_integral)]  # keeps "minimum"
Width = Annotated[int, Field(ge=1), BeforeValidator(_integral), AfterValidator(_width)]


# What the defaults resolve to when a request leaves epochs or validation_split out. A model
# with 200 training rows or more holds 20% of them out to stop early. Measured on ten real
# datasets cut to 50, 100 and 200 rows (bench_tabular --subsample): below 200 rows early
# stopping on so few rows did worse than a fixed 100 epochs on every row.
MIN_VALIDATION_ROWS = 200
DEFAULT_SPLIT = 0.2
EPOCHS_WITH_VALIDATION, EPOCHS_WITHOUT = 500, 100


class Hyperparameters(BaseModel):
    """How to train; each field is a flag of nns-train (`--learning-rate` is also `--lr`).

    The defaults suit tabular data (chosen by measurement, docs/benchmarks.md); the built-in
    datasets keep the settings they were designed with for the fields a request
    leaves out.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden: list[Width] = Field([64], description="Hidden layer widths; [] is a perceptron.")
    activation: Literal[HIDDEN_ACTIVATIONS] = Field(  # type: ignore[valid-type]
        "tanh", description="Activation of the hidden layers."
    )
    loss: Literal["bce", "cce", "mse"] | None = Field(
        None,
        description="bce: binary classification, cce: multiclass, mse: regression; "
        "none: the task's (see task).",
    )
    optimizer: Literal["sgd", "adam"] = Field("adam", description="Gradient descent variant.")
    learning_rate: float = Field(0.003, gt=0, le=10, allow_inf_nan=False, description="Step size.")
    epochs: Count | None = Field(
        None,
        ge=1,
        le=MAX_COUNT,
        description=f"Passes over the training rows; none: at most {EPOCHS_WITH_VALIDATION} with "
        f"early stopping, {EPOCHS_WITHOUT} without. After cross-validation the published model "
        "trains for the epochs the folds chose.",
    )
    batch_size: Positive | None = Field(128, description="Rows per step; none: the full batch.")
    seed: Count = Field(1, ge=0, le=2**32 - 1, description="Seed of every random draw.")
    validation_split: float | None = Field(
        None,
        ge=0,
        lt=1,
        allow_inf_nan=False,
        description="Share of a model's training rows held out to stop it early (never the rows "
        f"that score it); none: {DEFAULT_SPLIT} from {MIN_VALIDATION_ROWS} rows on, else 0 (no "
        "early stopping).",
    )
    patience: Positive | None = Field(
        50, description="Epochs without a better validation loss before stopping early."
    )
    momentum: float = Field(0.0, ge=0, lt=1, allow_inf_nan=False, description="SGD momentum.")
    weight_decay: float = Field(
        0.0, ge=0, le=1, allow_inf_nan=False, description="L2 penalty on the weights."
    )
    dtype: Literal["float64", "float32"] = Field("float64", description="Network precision.")

    def for_dataset(self, dataset: str | None) -> Hyperparameters:
        """Fill the fields a request left out with the built-in dataset's recipe."""
        recipe = RECIPES.get(dataset or "", {})
        given = self.model_dump(include=self.model_fields_set)
        return Hyperparameters.model_validate({**recipe, **given})

    def split_for(self, rows: int) -> float:
        """Return the validation share for `rows` rows (validation_split, else the default)."""
        if self.validation_split is not None:
            return self.validation_split
        return DEFAULT_SPLIT if rows >= MIN_VALIDATION_ROWS else 0.0

    def epochs_for(self, validation: bool) -> int:
        """Return the epochs to run (epochs, else the default with or without validation)."""
        if self.epochs is not None:
            return self.epochs
        return EPOCHS_WITH_VALIDATION if validation else EPOCHS_WITHOUT

    @field_validator("hidden")
    @classmethod
    def _depth(cls, widths: list[int], info: ValidationInfo) -> list[int]:
        within("layers", len(widths), info)
        return widths

    @field_validator("epochs")
    @classmethod
    def _epochs(cls, epochs: int | None, info: ValidationInfo) -> int | None:
        within("epochs", epochs, info)
        return epochs


class StoredHyperparameters(Hyperparameters):
    """The hyperparameters a version was trained with, every default resolved (model.json)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# The settings the built-in datasets were designed with: the diabetes perceptron, XOR and moons
# keep their answers. A request's own fields override them.
RECIPES: dict[str, dict] = {
    name: {
        "hidden": [4],
        "activation": "sigmoid",
        "learning_rate": 0.05,
        "epochs": 2000,
        "batch_size": None,
        "validation_split": 0.0,
        "patience": None,
    }
    for name in BUILTIN
}


class TrainSpec(BaseModel):
    """What to train and how, and what happens after: everything but where the data is."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName = Field(description="Model to train; a new name creates the model.")
    task: Literal["auto", "binary", "multiclass", "regression"] = Field(
        "auto", description="What to predict; auto: worked out from the target's values."
    )
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    promote: Policy = Field(
        "auto",
        description="auto: make it current only if it beats its baseline and is not worse "
        "than the current version; always; never. true and false mean always and never.",
    )
    timeout: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Wall-clock budget in seconds (default and maximum: NNS_JOB_TIMEOUT).",
    )

    @field_validator("promote", mode="before")
    @classmethod
    def _old_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        """Keep the first release's booleans working: true is always, false is never."""
        if info.mode == "python" and isinstance(value, str):  # flags and query values
            value = {"true": True, "false": False}.get(value.strip().lower(), value)
        if value is True or value is False:
            return "always" if value else "never"
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, timeout: float | None, info: ValidationInfo) -> float | None:
        within("timeout", timeout, info)
        return timeout
