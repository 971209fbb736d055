"""The one feature rule: what a feature value may be, and how raw values become the model input.

A model's features are `FeatureSpec`s, stored with every version. `FeatureSet` applies them to
raw columns from any source (JSON rows, V2 tensors, CSV columns): it checks every value and
encodes the columns into the network's input matrix, or reports located problems. The pydantic
types that validate and document JSON rows are generated here from the same specs.

Kinds: numeric (a finite number, standardised later with the network's scaler), binary (one of
two values, encoded 0 and 1), categorical (one of the categories seen in training, one-hot) and
date (ISO-8601 text, encoded as days since 1970-01-01, then standardised like a number). A
feature that had missing values in training is `nullable`: null is imputed with `impute`
(numeric, date) or encoded as its own category (categorical).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    StringConstraints,
    Tag,
    TypeAdapter,
)
from typing_extensions import TypedDict

from . import dates
from .categorical import Categorical

Label = str | bool | int | float  # a target value or a binary/categorical feature value
Kind = Literal["numeric", "binary", "categorical", "date"]

# A float equal to 0 or 1: JSON Schema (the OpenAPI document) counts 1.0 as an integer, and a
# strict int would refuse it; as fast as the strict int, and rows become float64 anyway.
ZeroOne = Annotated[float, Strict(), Field(ge=0, le=1, multiple_of=1, allow_inf_nan=False)]
Finite = Annotated[float, Strict(), Field(allow_inf_nan=False)]
IsoDate = Annotated[str, StringConstraints(pattern=dates.PATTERN)]


class FeatureSpec(BaseModel):
    """One input column as the model was trained on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: Kind
    min: float | None = Field(
        None, description="Smallest value seen in training (numbers; dates: days since 1970)."
    )
    max: float | None = Field(
        None, description="Largest value seen in training (numbers; dates: days since 1970)."
    )
    values: list[Label] | None = Field(
        None, description="binary: the values encoded 0 and 1; categorical: the categories."
    )
    nullable: bool = Field(False, description="Had missing values in training: null is accepted.")
    impute: float | None = Field(
        None, description="numeric, date: the value used for null (the median)."
    )

    @property
    def zero_one(self) -> bool:
        """Tell whether this is a binary feature whose values are the numbers 0 and 1."""
        values = self.values
        if values is not None and any(isinstance(v, bool) for v in values):
            return False  # [False, True] == [0, 1] in Python; booleans are values, not numbers
        return self.type == "binary" and values in (None, [0, 1], [0.0, 1.0])

    @property
    def takes_numbers(self) -> bool:
        """Tell whether raw values are numbers that encode as themselves (numeric or 0/1)."""
        return self.type == "numeric" or self.zero_one

    @property
    def numeric_input(self) -> bool:
        """Tell whether every raw value is a plain number (no null), so a float column works."""
        return self.takes_numbers and not self.nullable

    @property
    def width(self) -> int:
        """Return the number of input columns this feature takes in the network's matrix."""
        if self.type != "categorical":
            return 1
        return len(self.values or []) + (1 if self.nullable else 0)

    def example(self) -> Label:
        """Return a plausible value: the imputation value, the middle of the range, a value."""
        if self.type not in ("numeric", "date"):
            return (self.values or [0, 1])[-1 if self.zero_one else 0]
        if self.impute is not None:
            middle = self.impute
        else:
            low, high = self.min or 0.0, self.max if self.max is not None else 1.0
            middle = round((low + high) / 2, 6)
        return dates.text_of(round(middle)) if self.type == "date" else middle

    def describe(self) -> str:
        """Return one line for people: the kind, its values or range, and how null is handled."""
        if self.type == "date":
            low, high = dates.text_of(self.min or 0.0), dates.text_of(self.max or 0.0)
            line = f"date (ISO-8601 text) from {low} to {high}, read as days since 1970-01-01"
        elif self.type == "numeric":
            line = f"numeric [{self.min:g}, {self.max:g}]"
        else:
            values = self.values or []
            shown = ", ".join(str(v) for v in values[:8])
            more = f", ... ({len(values)} in all)" if len(values) > 8 else ""
            line = f"{self.type}: {shown}{more}"
            if self.type == "categorical" and _mixed(values):
                line += " (numbers and words in one column: read as categories)"
        if not self.nullable:
            return line
        if self.type == "categorical":
            return line + " + missing as a category"
        shown = dates.text_of(self.impute or 0.0) if self.type == "date" else f"{self.impute:g}"
        return line + f", missing values imputed with {shown}"

    def value_type(self) -> Any:
        """Return the pydantic type of this feature's value in a JSON row, undocumented."""
        if self.zero_one:
            kind: Any = ZeroOne
        elif self.type == "numeric":
            kind = Finite
        elif self.type == "date":
            kind = IsoDate
        else:
            kind = Literal[tuple(self.values or [])]
        return kind | None if self.nullable else kind

    def json_type(self) -> Any:
        """Return the pydantic type of this feature's value in a JSON row, with its description."""
        if self.zero_one:
            text = f"binary feature, trained on [{self.min or 0:g}, {self.max or 1:g}]"
        elif self.type == "numeric":
            text = f"numeric feature, trained on [{self.min:g}, {self.max:g}]"
        elif self.type == "date":
            low, high = dates.text_of(self.min or 0.0), dates.text_of(self.max or 0.0)
            text = f"date feature ({dates.FORMAT}), trained on {low} to {high}"
        else:
            text = f"{self.type} feature: one of {_listing(self.values or [])}"
        if self.nullable:
            text += "; null is accepted"
        return Annotated[self.value_type(), Field(description=text)]


def _mixed(values: Sequence[Label]) -> bool:
    kinds = {isinstance(v, str) for v in values if not isinstance(v, bool)}
    return kinds == {True, False}


def _listing(values: Sequence[Label]) -> str:
    return ", ".join(repr(v) for v in values)


@dataclass(frozen=True)
class Problem:
    """Bad values in one feature's column: the feature, its position, the rows and what is wrong."""

    feature: str
    column: int
    rows: list[int]
    msg: str


class FeatureError(ValueError):
    """Raw values that break the feature rule; each problem says which feature and rows."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"feature {p.feature!r} {p.msg}" for p in problems))
        self.problems = problems


class FeatureSet:
    """Check raw feature values and encode them into the network's input matrix."""

    def __init__(self, specs: Sequence[FeatureSpec]) -> None:
        self.specs = list(specs)
        self.names = [s.name for s in self.specs]
        self.width = sum(s.width for s in self.specs)
        # Every raw value is a plain number and encodes as itself: one float matrix, no lookups.
        self.numeric = all(s.numeric_input for s in self.specs)
        self._zero_one = np.array([s.zero_one for s in self.specs], dtype=bool)
        self._all_zero_one, self._any_zero_one = self._zero_one.all(), self._zero_one.any()
        self._zero_one_list = self._zero_one.tolist()
        self._json_types = [_json_types(s) for s in self.specs]
        names = self.names
        self._getter = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))

    # -- JSON rows ------------------------------------------------------------------------

    def row_type(self, title: str) -> type:
        """Return the TypedDict that validates and documents one JSON row (extra keys refused)."""
        fields = {s.name: s.json_type() for s in self.specs}
        row = TypedDict(f"{title}Row", fields)  # type: ignore[misc]  # names come from data
        example = {s.name: s.example() for s in self.specs}  # shown by /docs
        row.__pydantic_config__ = ConfigDict(  # type: ignore[attr-defined]
            extra="forbid", json_schema_extra={"examples": [example]}
        )
        return row

    def request_adapter(self, title: str, max_batch: int) -> TypeAdapter:
        """Return the validator of a predict body: one row, or {"instances": [rows]}.

        Rows come out as dicts in feature order; error locations start with "row" or "batch".
        """
        row = self.row_type(title)
        rows = Annotated[list[row], Field(min_length=1, max_length=max_batch)]  # type: ignore[valid-type]
        batch = TypedDict(f"{title}Batch", {"instances": rows})  # type: ignore[misc]  # noqa: UP013
        batch.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
        body = Annotated[
            Annotated[row, Tag("row")] | Annotated[batch, Tag("batch")],  # type: ignore[valid-type]
            Discriminator(lambda v: "batch" if isinstance(v, dict) and "instances" in v else "row"),
        ]
        return TypeAdapter(body)

    def encode_rows(self, rows: list[dict]) -> np.ndarray:
        """Return X: (n, width) from rows already validated by `request_adapter`, in order."""
        if self.numeric:
            # Validated rows are dicts in feature order, so their values, chained, are the
            # matrix; fromiter reads them in one pass (np.array on tuples costs twice as much).
            values = chain.from_iterable(map(dict.values, rows))
            X = np.fromiter(values, dtype=np.float64, count=len(rows) * len(self.specs))
            return X.reshape(len(rows), len(self.specs))
        return self.encode([[row[name] for row in rows] for name in self.names])

    def plain_row(self, row: dict) -> np.ndarray | None:
        """Return X: (1, width) for one plainly valid row of an all-numeric set, else None.

        `plain_rows` for the commonest request, checked value by value in Python: for one row
        that costs a fraction of NumPy's per-call overhead. Same rule, same values.
        """
        if not self.numeric or len(row) != len(self.specs):
            return self.plain_rows([row])
        try:
            values = self._getter(row)
            for value, zero_one in zip(values, self._zero_one_list, strict=True):
                if type(value) is not float and type(value) is not int:
                    return None
                if not (value == 0 or value == 1) if zero_one else not math.isfinite(value):
                    return None
            return np.array([values], dtype=np.float64)
        except (KeyError, OverflowError):  # a missing feature; an integer beyond float64
            return None

    def plain_rows(self, rows: list) -> np.ndarray | None:
        """Return X for rows parsed by a plain JSON reader when every value is plainly valid.

        None means "not plainly valid": the caller validates with `request_adapter`, whose
        errors are the ones clients see. Accepts only what that validator accepts, with the
        same values: dicts with exactly the feature keys and values of the right JSON type.
        """
        width = len(self.specs)
        try:
            # Rows of `width` entries that have every feature are dicts with exactly those keys.
            if set(map(len, rows)) != {width}:
                return None
            if self.numeric:
                values = list(chain.from_iterable(map(self._getter, rows)))
                if not set(map(type, values)) <= _NUMBERS:
                    return None
                return self.check_matrix(np.array(values, dtype=np.float64).reshape(-1, width))
            columns = [[row[name] for row in rows] for name in self.names]
        except (TypeError, KeyError, OverflowError, FeatureError):
            return None
        for allowed, column in zip(self._json_types, columns, strict=True):
            if not set(map(type, column)) <= allowed:
                return None
        try:
            return self.encode(columns)
        except FeatureError:
            return None

    # -- columns --------------------------------------------------------------------------

    def check_matrix(self, X: np.ndarray) -> np.ndarray:
        """Return X: (n, n_features) of raw numbers unchanged if every value is valid.

        Only for sets whose features are all numeric or 0/1 (`numeric`), where raw values
        are the encoding; FeatureError names the bad features and rows otherwise.
        """
        # One whole-matrix test in the common cases (this runs on every prediction): 0 or 1
        # implies finite, and NaN or infinity fails both comparisons.
        if self._all_zero_one:
            if ((X == 0) | (X == 1)).all():
                return X
        elif not self._any_zero_one:
            if np.isfinite(X).all():
                return X
        else:
            binary = X[:, self._zero_one]
            if np.isfinite(X).all() and ((binary == 0) | (binary == 1)).all():
                return X
        problems = []
        for j, spec in enumerate(self.specs):
            bad, msg = _check_numbers(spec, X[:, j])
            if bad is not None:
                problems.append(Problem(spec.name, j, bad.tolist(), msg))
        raise FeatureError(problems)

    def encode(self, columns: Sequence[Sequence | np.ndarray]) -> np.ndarray:
        """Return X: (n, width) from one raw column per feature; FeatureError on bad values.

        Numeric columns hold numbers (None for the missing values of nullable features);
        binary and categorical columns hold the values named in their specs.
        """
        if len(columns) != len(self.specs):
            raise ValueError(f"expected {len(self.specs)} columns, got {len(columns)}")
        n = len(columns[0]) if len(columns) else 0
        if self.numeric:
            X = np.empty((n, len(self.specs)), dtype=np.float64)
            problems = []
            for j, (spec, column) in enumerate(zip(self.specs, columns, strict=True)):
                try:
                    X[:, j] = _numbers(column, spec)[0]
                except _NotNumbers as exc:
                    problems.append(Problem(spec.name, j, exc.rows, _NOT_A_NUMBER))
            if problems:
                raise FeatureError(problems)
            return self.check_matrix(X)
        X = np.empty((n, self.width), dtype=np.float64)
        problems: list[Problem] = []
        at = 0
        for j, (spec, column) in enumerate(zip(self.specs, columns, strict=True)):
            bad, msg = _encode(spec, column, X[:, at : at + spec.width])
            if bad is not None:
                problems.append(Problem(spec.name, j, bad.tolist(), msg))
            at += spec.width
        if problems:
            raise FeatureError(problems)
        return X


_NUMBERS = {int, float}
_NOT_A_NUMBER = "must be a number"


def _json_types(spec: FeatureSpec) -> set[type]:
    """Return the Python types of the JSON values this feature accepts without coercion."""
    return _python_types(spec.value_type())


def _python_types(kind: Any) -> set[type]:
    """Return the Python types a pydantic type of json_type() accepts from JSON as they are."""
    origin = get_origin(kind)
    if origin is Annotated:
        return _python_types(get_args(kind)[0])
    if origin is Union:
        return set().union(*map(_python_types, get_args(kind)))
    if origin is Literal:
        return {type(v) for v in get_args(kind)}
    return set(_NUMBERS) if kind is float else {kind}  # a strict float takes JSON integers


def _check_numbers(spec: FeatureSpec, values: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Return (bad rows, message) for a column of numbers, or (None, "") when all are valid."""
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(values)
    if not finite.all():
        return np.flatnonzero(~finite), "must be finite: NaN and Infinity are not accepted"
    if spec.zero_one:
        ok = (values == 0) | (values == 1)
        if not ok.all():
            return np.flatnonzero(~ok), "is binary: it accepts only 0 and 1"
    return None, ""


def _encode(spec: FeatureSpec, column, out: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Write one feature's encoding into out: (n, width); return (bad rows, message)."""
    if spec.type == "date":
        return _encode_dates(spec, column, out)
    if spec.takes_numbers:
        try:
            values, missing = _numbers(column, spec)
        except _NotNumbers as exc:
            null = " or null" if spec.nullable else ""
            return np.array(exc.rows), _NOT_A_NUMBER + null
        if missing is not None:
            values[missing] = spec.impute if spec.impute is not None else 0.0
        out[:, 0] = values
        return _check_numbers(spec, values)
    allowed = list(spec.values or [])
    index = {_key(v): i for i, v in enumerate(allowed)}
    if spec.nullable:
        index[_key(None)] = len(allowed)
    if isinstance(column, Categorical):  # training data: look up each category once
        table = [index.get(_key(v), -1) for v in [*column.categories, None]]
        codes = np.array(table, dtype=np.int64)[column.codes]
    else:
        codes = np.fromiter((index.get(_key(v), -1) for v in column), np.int64, count=len(column))
    bad = np.flatnonzero(codes < 0)
    if spec.type == "binary":
        out[:, 0] = codes
    else:
        out[...] = 0.0
        good = np.flatnonzero(codes >= 0)
        out[good, codes[good]] = 1.0
    if bad.size:
        null = " or null" if spec.nullable else ""
        return bad, f"accepts only one of {_listing(allowed)}{null}"
    return None, ""


def _encode_dates(spec: FeatureSpec, column, out: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Write days since 1970-01-01 into out: (n, 1); return (bad rows, message)."""
    if isinstance(column, np.ndarray) and column.dtype.kind == "M":
        values, bad = dates.days(column), np.empty(0, dtype=np.int64)
    else:
        texts = column.categories if isinstance(column, Categorical) else column
        pairs = [_day(v) for v in texts]
        table = np.array([day for day, _ in pairs], dtype=np.float64)
        wrong = np.array([w for _, w in pairs], dtype=bool)
        if isinstance(column, Categorical):
            values = np.append(table, np.nan)[column.codes]
            bad = np.flatnonzero(np.append(wrong, False)[column.codes])
        else:
            values, bad = table, np.flatnonzero(wrong)
    gaps = np.isnan(values)
    if not spec.nullable:
        bad = np.union1d(bad, np.flatnonzero(gaps))
    values[gaps] = spec.impute if spec.impute is not None else 0.0
    out[:, 0] = values
    if bad.size:
        null = " or null" if spec.nullable else ""
        return bad, f"must be an ISO-8601 date ({dates.FORMAT}){null}"
    return None, ""


def _day(value: Any) -> tuple[float, bool]:
    """Return (days since 1970, or NaN when missing or wrong; whether it is wrong)."""
    if value is None:
        return math.nan, False
    days = dates.days_of(value) if isinstance(value, str) else None
    return (math.nan, True) if days is None else (days, False)


def _key(value: Any) -> tuple:
    """Compare feature values by type as well as value: True is not 1, "1" is not 1."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value), value)
    if isinstance(value, bytes):
        return (str, value.decode("utf-8", "replace"))
    if isinstance(value, int | float | np.integer | np.floating):
        return (float, float(value))
    return ("other", id(value))


def _numbers(column, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (float64 copy of a column of numbers, mask of its missing values or None).

    A typed NumPy column (a V2 tensor) is taken as numbers; in a Python sequence, only int and
    float are (never bool or text): anything else raises _NotNumbers with its rows. Numbers
    beyond float64's range become infinite and fail the finite check.
    """
    if isinstance(column, np.ndarray) and column.dtype.kind in "biuf":
        values = column.astype(np.float64).reshape(-1)
        # A nullable feature's NaN is a missing value (training data, V2 tensors); otherwise
        # NaN is refused by the finite check.
        gaps = np.isnan(values) if spec.nullable else None
        return values, gaps if gaps is not None and gaps.any() else None
    kinds = _NUMBERS | ({type(None)} if spec.nullable else set())
    if not set(map(type, column)) <= kinds:
        raise _NotNumbers([i for i, v in enumerate(column) if type(v) not in kinds])
    missing = None
    if spec.nullable:
        flags = np.fromiter((v is None for v in column), dtype=bool, count=len(column))
        if flags.any():
            missing, column = flags, [0.0 if v is None else v for v in column]
    try:
        return np.asarray(column, dtype=np.float64).reshape(-1), missing
    except OverflowError:  # a Python int beyond float64: the same as an infinite value
        return np.array([_float(v) for v in column], dtype=np.float64), missing


class _NotNumbers(ValueError):
    def __init__(self, rows: list[int]) -> None:
        super().__init__("not numbers")
        self.rows = rows


def _float(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf
