"""The one training request: the spec plus where its data comes from, and the step that loads it.

`nns-train` builds a `TrainRequest` from its flags (the data a file), `POST /train` validates one
from its JSON body (inline rows or a built-in dataset) or from its query and CSV body, the job
queue carries it as JSON, and the trainer runs it: `load` turns it into a `Dataset` the same way
for all of them, `--exclude` included, and service.training.pipeline trains on that.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from ..data import datasets
from ..data.csvfile import MISSING, named, read_csv_file, read_csv_text
from ..data.dataset import Dataset, DatasetError, from_rows
from ..data.datasets import BUILTIN, MOONS_NOISE, MOONS_SAMPLES
from .spec import MAX_COUNT, Hyperparameters, Limits, TrainSpec, check_rows

BuiltinName = Literal[BUILTIN]  # type: ignore[valid-type]
Cell = Annotated[float, Field(allow_inf_nan=False)] | str | bool | None  # null: missing
SOURCES = ("rows", "dataset", "csv", "file")  # exactly one of them holds the data


class TrainRequest(TrainSpec):
    """A training run and its data: inline `rows` with their `target`, a built-in `dataset`, a
    CSV body (`csv`, from POST /train with text/csv) or a CSV file (`file`, nns-train only)."""

    target: str | None = Field(None, min_length=1, description="The column of the data to predict.")
    rows: list[dict[str, Cell]] | None = Field(
        None,
        min_length=1,
        description="Training rows: each feature and the target by name; null is missing.",
    )
    dataset: BuiltinName | None = Field(None, description="A built-in dataset instead of own data.")
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
    exclude: list[str] = Field([], description="Columns to leave out (IDs, names, leaks).")
    sep: Literal[",", ";", "\t", "|"] | None = Field(
        None, description="CSV delimiter; none: detected (comma, semicolon, tab or pipe)."
    )
    decimal: Literal[".", ","] | None = Field(
        None,
        description="CSV decimal mark; none: detected (a comma where the delimiter is not one).",
    )
    na: list[str] | None = Field(
        None,
        description="Cells that mean a missing value; none: " + ", ".join(repr(m) for m in MISSING),
    )
    # Set by the service, never by a JSON body: the CSV body's text, the CLI's file.
    csv: SkipJsonSchema[str | None] = None
    file: SkipJsonSchema[str | None] = None

    @field_validator("samples")
    @classmethod
    def _samples(cls, samples: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("dataset") == "moons":
            check_rows(samples or MOONS_SAMPLES, info)
        return samples

    @field_validator("rows")
    @classmethod
    def _row_limit(cls, rows: list | None, info: ValidationInfo) -> list | None:
        if rows is not None:
            check_rows(len(rows), info)
        return rows

    @field_validator("sep", mode="before")
    @classmethod
    def _sep_names(cls, value: Any) -> Any:
        """Accept the delimiters' names, easier to type than a tab: comma, semicolon, tab, pipe."""
        return named("sep", value)

    @field_validator("decimal", mode="before")
    @classmethod
    def _decimal_names(cls, value: Any) -> Any:
        """Accept the marks' names too: point, comma."""
        return named("decimal", value)

    @field_validator("exclude", "na", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        """Accept "a,b" (flags and CSV query values) as well as a list."""
        return [part.strip() for part in value.split(",")] if isinstance(value, str) else value

    @field_validator("csv", "file")
    @classmethod
    def _not_from_json(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and (info.context or {}).get("json_body"):
            raise ValueError(
                "not accepted in a JSON body: send rows, or the CSV as a text/csv body"
            )
        return value

    @model_validator(mode="after")
    def _one_source(self) -> TrainRequest:
        given = [name for name in SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give either rows (with target) or dataset")
        if self.dataset is not None:
            if self.target is not None:
                raise ValueError("target only applies to rows or a CSV; a dataset names its own")
            # A built-in dataset's recipe fills the hyperparameters the request left out.
            self.hyperparameters = self.hyperparameters.for_dataset(self.dataset)
        elif self.target is None:
            raise ValueError(f"{given[0]} need target: the column to predict")
        if self.dataset != "moons" and (self.samples is not None or self.noise is not None):
            raise ValueError("samples and noise only apply to dataset moons")
        return self

    @property
    def moons(self) -> dict[str, float]:
        """Return the moons options with their defaults: {"samples": ..., "noise": ...}."""
        noise = MOONS_NOISE if self.noise is None else self.noise
        return {"samples": self.samples or MOONS_SAMPLES, "noise": noise}

    @property
    def source(self) -> str:
        """Name the data for the model card: a file's absolute path, dataset:NAME, request:..."""
        if self.file is not None:
            return str(Path(self.file).resolve())
        if self.dataset is not None:
            return f"dataset:{self.dataset}"
        return "request:rows" if self.rows is not None else "request:csv"

    def csv_options(self, limits: Limits | None = None) -> dict[str, Any]:
        """Return the CSV reader's options for this request."""
        options: dict[str, Any] = {"sep": self.sep, "decimal": self.decimal}
        options["exclude"] = tuple(self.exclude)
        if self.na is not None:
            options["na"] = tuple(self.na)
        if limits is not None:
            options["max_rows"] = limits.rows
        return options


def load(request: TrainRequest, limits: Limits | None = None) -> Dataset:
    """Return the request's data without its excluded columns; DatasetError says what is wrong.

    `limits` (HTTP requests) caps the rows of a CSV while it is read.
    """
    if request.csv is not None:
        data = read_csv_text(request.csv, request.target, **request.csv_options(limits))
    elif request.file is not None:
        data = read_csv_file(request.file, request.target, **request.csv_options(limits))
    else:
        if request.rows is not None:
            data = from_rows(request.rows, request.target)
        else:
            seed = request.hyperparameters.seed
            data = datasets.builtin(request.dataset, **request.moons, seed=seed)
        data = exclude(data, request.exclude)
    provenance = {"name": request.source, "excluded": list(request.exclude)}
    return replace(data, source={**data.source, **provenance})


def exclude(data: Dataset, names: list[str]) -> Dataset:
    """Return `data` without the named feature columns; refuse names it does not have."""
    if not names:
        return data
    if data.target in names:
        raise DatasetError(f"the target {data.target!r} cannot be excluded")
    unknown = [c for c in names if c not in data.features]
    if unknown:
        found = ", ".join(repr(f) for f in [*data.features, data.target])
        raise DatasetError(f"--exclude names columns not in the data: {unknown}; columns: {found}")
    return data.without(names)


# -- flat forms: nns-train flags and the CSV query -----------------------------------------

# The request fields a flat form gives by name; every other name is a hyperparameter.
FLAT_FIELDS = tuple(
    name
    for name in TrainRequest.model_fields
    if name not in ("hyperparameters", "rows", "csv", "file")
)
CSV_QUERY_FIELDS = tuple(f for f in FLAT_FIELDS if f not in ("dataset", "samples", "noise"))


def hidden_widths(text: str) -> list[str]:
    """Split "64,64" into widths; "none" or "" is no hidden layer."""
    text = text.strip()
    return [] if text.lower() in ("", "none") else [part.strip() for part in text.split(",")]


def from_flat(values: dict[str, Any], limits: Limits | None = None, **source: str) -> TrainRequest:
    """Validate flat name=value pairs (strings allowed); hyperparameters sit beside the rest.

    `source` gives the data the caller holds (csv=text, file=path): never a flat value, so a
    query string cannot name a file. Errors locate hyperparameters by their own name, as they
    were given: ["epochs"].
    """
    top = {k: v for k, v in values.items() if k in FLAT_FIELDS}
    hyper = {k: v for k, v in values.items() if k not in FLAT_FIELDS}
    if isinstance(hyper.get("hidden"), str):
        hyper["hidden"] = hidden_widths(hyper["hidden"])
    body = {**top, **source, "hyperparameters": hyper}
    return TrainRequest.model_validate(body, context={"limits": limits})


def flat_loc(loc: tuple | list) -> list:
    """Return an error location of a flat form: ["hyperparameters", "epochs"] -> ["epochs"]."""
    loc = list(loc)
    return loc[1:] if loc[:1] == ["hyperparameters"] else loc


def csv_query_parameters() -> list[dict]:
    """Return the OpenAPI query parameters of POST /train with a CSV body, from the fields."""
    schema = TrainRequest.model_json_schema()
    hyper = Hyperparameters.model_json_schema()
    fields = [(n, schema["properties"][n]) for n in CSV_QUERY_FIELDS]
    fields += list(hyper["properties"].items())
    required = {"model", "target"}
    params = []
    for name, prop in fields:
        text = prop.get("description", "")
        param = {
            "name": name,
            "in": "query",
            "required": False,
            # No "default": a generated client would send it with JSON bodies too.
            "schema": {
                k: v for k, v in prop.items() if k not in ("description", "title", "default")
            },
            "description": f"text/csv only{' (required)' if name in required else ''}: {text}",
        }
        if "array" in str(param["schema"]):  # "a,b": one value, comma-separated
            param |= {"style": "form", "explode": False}
        params.append(param)
    return params


# -- the JSON body in OpenAPI: one named object per kind of source, so client generators
# (openapi-python-client) can build a type for each; the document admits what the validator does.
BODY_VARIANTS = {
    "TrainOnRows": ("Train on inline rows.", ["rows", "target"], {}),
    "TrainOnMoons": ("Train on the built-in moons dataset.", ["dataset"], {"const": "moons"}),
    "TrainOnDataset": (
        "Train on a built-in dataset.",
        ["dataset"],
        {"enum": [d for d in BUILTIN if d != "moons"]},
    ),
}
OWN = {"TrainOnRows": {"rows", "target"}, "TrainOnMoons": {"dataset", "samples", "noise"}}
OWN["TrainOnDataset"] = {"dataset"}


def body_components(ref_template: str) -> dict[str, dict]:
    """Return the component schemas of the JSON body: its variants and the types they use."""
    schema = TrainRequest.model_json_schema(ref_template=ref_template)
    components = schema.pop("$defs", {})
    props = schema["properties"]
    source_fields = set().union(*OWN.values())
    common = {k: v for k, v in props.items() if k not in source_fields}
    for name, (text, required, dataset) in BODY_VARIANTS.items():
        own = {k: props[k] for k in props if k in OWN[name]}
        if "dataset" in own:
            own["dataset"] = {**dataset, "description": props["dataset"]["description"]}
        # An explicit null for another source's field is accepted, as the validator does.
        others = {k: {"type": "null"} for k in source_fields - OWN[name]}
        components[name] = {
            "title": name,
            "description": text,
            "type": "object",
            "properties": {**common, **own, **others},
            "required": ["model", *required],
            "additionalProperties": False,
        }
    return components


def body_schema(ref_template: str) -> dict:
    """Return the JSON body's schema: one of the variants."""
    return {"oneOf": [{"$ref": ref_template.format(model=name)} for name in BODY_VARIANTS]}
