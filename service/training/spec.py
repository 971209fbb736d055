"""The training spec: what to train and how, with every default and limit in one place.

`nns-train`'s flags, the query of a CSV `POST /train` and the JSON body of `POST /train` are
all parsed into `TrainSpec` (the JSON body adds inline `rows`: `TrainRequest`). The service's
size limits (NNS_MAX_*) are validators that apply when a `Limits` is in the validation context;
the offline command passes none.
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
    model_validator,
)
from pydantic_core import PydanticCustomError

from model_store import InvalidName, validate_name

from ..data.csvfile import MISSING
from ..data.datasets import BUILTIN, MOONS_NOISE, MOONS_SAMPLES
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
Dataset = Literal[BUILTIN]  # type: ignore[valid-type]


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


class Hyperparameters(BaseModel):
    """How to train; each field is a flag of nns-train (`--learning-rate` is also `--lr`).

    The defaults suit tabular data (chosen by measurement, README "Training on your own CSV");
    the built-in datasets keep the settings they were designed with (RECIPES) for the fields
    a request leaves out.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden: list[Width] = Field([64], description="Hidden layer widths; [] is a perceptron.")
    activation: Literal["sigmoid", "tanh", "relu", "identity"] = Field(
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
        description="Passes over the training rows; none: at most 500 with early stopping on a "
        "validation split, 100 without one.",
    )
    batch_size: Positive | None = Field(128, description="Rows per step; none: the full batch.")
    seed: Count = Field(1, ge=0, le=2**32 - 1, description="Seed of every random draw.")
    validation_split: float | None = Field(
        None,
        ge=0,
        lt=1,
        allow_inf_nan=False,
        description="Share of rows held out for early stopping and metrics; none: 0.2 from "
        "200 rows on, else 0 (metrics on the training rows).",
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
    """A training run: the model, the data (a built-in dataset or the caller's), how, and after."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName = Field(description="Model to train; a new name creates the model.")
    target: str | None = Field(None, min_length=1, description="The column of the data to predict.")
    dataset: Dataset | None = Field(None, description="A built-in dataset instead of own data.")
    samples: int | None = Field(
        None,
        ge=2,
        le=MAX_COUNT,
        validate_default=True,
        description=f"moons only: rows ({MOONS_SAMPLES}).",
    )
    noise: float | None = Field(
        None, ge=0, le=10, allow_inf_nan=False, description=f"moons only: noise ({MOONS_NOISE})."
    )
    task: Literal["auto", "binary", "multiclass", "regression"] = Field(
        "auto", description="What to predict; auto: worked out from the target's values."
    )
    exclude: list[str] = Field([], description="Columns to leave out (IDs, names, leaks).")
    sep: Literal[",", ";", "\t", "|"] | None = Field(
        None, description="CSV delimiter; none: detected (comma, semicolon, tab or pipe)."
    )
    na: list[str] | None = Field(
        None,
        description="Cells that mean a missing value; none: " + ", ".join(repr(m) for m in MISSING),
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

    @field_validator("samples")
    @classmethod
    def _samples(cls, samples: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("dataset") == "moons":
            check_rows(samples or MOONS_SAMPLES, info)
        return samples

    @field_validator("promote", mode="before")
    @classmethod
    def _old_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        """Keep the first release's booleans working: true is always, false is never."""
        if info.mode == "python" and isinstance(value, str):  # flags and query values
            value = {"true": True, "false": False}.get(value.strip().lower(), value)
        if value is True or value is False:
            return "always" if value else "never"
        return value

    @field_validator("sep", mode="before")
    @classmethod
    def _sep_names(cls, value: Any) -> Any:
        """Accept the delimiters' names, easier to type than a tab: comma, semicolon, tab, pipe."""
        names = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
        return names.get(value, value) if isinstance(value, str) else value

    @field_validator("exclude", "na", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """Accept "a,b" (flags and CSV query values) as well as a list."""
        return [part.strip() for part in value.split(",")] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _recipe(self) -> TrainSpec:
        """Resolve the hyperparameters: a built-in dataset's recipe for what was left out."""
        if self.dataset is not None:
            self.hyperparameters = self.hyperparameters.for_dataset(self.dataset)
        return self

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, timeout: float | None, info: ValidationInfo) -> float | None:
        within("timeout", timeout, info)
        return timeout

    @model_validator(mode="after")
    def _dataset_options(self) -> TrainSpec:
        if self.dataset is not None and self.target is not None:
            raise ValueError("target only applies to rows or a CSV; a dataset names its own")
        if self.dataset != "moons" and (self.samples is not None or self.noise is not None):
            raise ValueError("samples and noise only apply to dataset moons")
        return self

    @property
    def moons(self) -> dict[str, float]:
        """Return the moons options with their defaults: {"samples": ..., "noise": ...}."""
        noise = MOONS_NOISE if self.noise is None else self.noise
        return {"samples": self.samples or MOONS_SAMPLES, "noise": noise}


_NULL = {"type": "null"}
_NO_ROWS = {"rows": _NULL, "target": _NULL}
_NO_MOONS = {"samples": _NULL, "noise": _NULL}
# TrainRequest's source rules in JSON Schema, so the OpenAPI document admits no body it refuses.
TRAIN_SOURCES = [
    {
        "required": ["rows", "target"],
        "properties": {"rows": {"type": "array"}, "target": {"type": "string"}, "dataset": _NULL}
        | _NO_MOONS,
    },
    {"required": ["dataset"], "properties": {"dataset": {"const": "moons"}, **_NO_ROWS}},
    {
        "required": ["dataset"],
        "properties": {
            "dataset": {"enum": [d for d in BUILTIN if d != "moons"]},
            **_NO_ROWS,
            **_NO_MOONS,
        },
    },
]
Cell = Annotated[float, Field(allow_inf_nan=False)] | str | bool | None  # null: missing


class TrainRequest(TrainSpec):
    """The JSON body of POST /train: inline `rows` with their `target`, or a built-in `dataset`."""

    model_config = ConfigDict(json_schema_extra={"anyOf": TRAIN_SOURCES})

    rows: list[dict[str, Cell]] | None = Field(
        None,
        min_length=1,
        description="Training rows: each feature and the target by name; null is missing.",
    )

    @field_validator("rows")
    @classmethod
    def _row_limit(cls, rows: list | None, info: ValidationInfo) -> list | None:
        if rows is not None:
            check_rows(len(rows), info)
        return rows

    @model_validator(mode="after")
    def _one_source(self) -> TrainRequest:
        if (self.rows is None) == (self.dataset is None):
            raise ValueError("give either rows (with target) or dataset")
        if self.rows is not None and self.target is None:
            raise ValueError("rows need target: the column to predict")
        return self


# -- flat forms: nns-train flags and the CSV query -----------------------------------------
FLAT_FIELDS = (
    "model", "target", "dataset", "samples", "noise", "task", "exclude", "sep", "na", "promote",
    "timeout",
)  # fmt: skip


def hidden_widths(text: str) -> list[str]:
    """Split "64,64" into widths; "none" or "" is no hidden layer."""
    text = text.strip()
    return [] if text.lower() in ("", "none") else [part.strip() for part in text.split(",")]


def from_flat(values: dict[str, Any], limits: Limits | None = None) -> TrainSpec:
    """Validate flat name=value pairs (strings allowed); hyperparameters sit beside the rest.

    Errors locate hyperparameters by their own name, as they were given: ["epochs"].
    """
    top = {k: v for k, v in values.items() if k in FLAT_FIELDS}
    hyper = {k: v for k, v in values.items() if k not in FLAT_FIELDS}
    if isinstance(hyper.get("hidden"), str):
        hyper["hidden"] = hidden_widths(hyper["hidden"])
    return TrainSpec.model_validate({**top, "hyperparameters": hyper}, context={"limits": limits})


def flat_loc(loc: tuple | list) -> list:
    """Return an error location of a flat form: ["hyperparameters", "epochs"] -> ["epochs"]."""
    loc = list(loc)
    return loc[1:] if loc[:1] == ["hyperparameters"] else loc
