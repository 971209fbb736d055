"""The one feature rule: what a feature value may be, and how raw values become the model input.

A model's features are `FeatureSpec`s, stored with every version. `FeatureSet` applies them to
raw columns from any source (JSON rows, V2 tensors, CSV columns): it checks every value and
encodes the columns into the network's input matrix, or reports located problems. The pydantic
types that validate and document JSON rows are generated here from the same specs.

What each kind of feature is lives in service/data/featurespec.py; how one column is encoded,
in service/data/encoding.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
from pydantic import ConfigDict, Discriminator, Field, Tag, TypeAdapter
from typing_extensions import TypedDict

from .encoding import (
    NOT_A_NUMBER,
    NUMBERS,
    NotNumbers,
    check_numbers,
    encode_column,
    numbers_of,
)
from .featurespec import FeatureSpec, Kind, Label

__all__ = ["FeatureError", "FeatureSet", "FeatureSpec", "Kind", "Label", "Problem", "Unknown"]


@dataclass(frozen=True)
class Problem:
    """Bad values in one feature's column: the feature, its position, the rows and what is wrong."""

    feature: str
    column: int
    rows: list[int]
    msg: str


@dataclass(frozen=True)
class Unknown:
    """Values of one feature never seen in training: scored at the training average."""

    feature: str
    rows: list[int]
    values: list


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

    def row_type(self, title: str, strict: bool = True) -> type:
        """Return the TypedDict that validates and documents one JSON row (extra keys refused).

        Not `strict`, binary and categorical features take values never seen in training.
        """
        fields = {s.name: s.json_type(strict) for s in self.specs}
        row = TypedDict(f"{title}Row", fields)  # type: ignore[misc]  # names come from data
        example = {s.name: s.example() for s in self.specs}  # shown by /docs
        row.__pydantic_config__ = ConfigDict(  # type: ignore[attr-defined]
            extra="forbid", json_schema_extra={"examples": [example]}
        )
        return row

    def request_adapter(self, title: str, max_batch: int, strict: bool = True) -> TypeAdapter:
        """Return the validator of a predict body: one row, or {"instances": [rows]}.

        Rows come out as dicts in feature order; error locations start with "row" or "batch".
        """
        row = self.row_type(title, strict)
        rows = Annotated[list[row], Field(min_length=1, max_length=max_batch)]  # type: ignore[valid-type]
        batch = TypedDict(f"{title}Batch", {"instances": rows})  # type: ignore[misc]  # noqa: UP013
        batch.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
        body = Annotated[
            Annotated[row, Tag("row")] | Annotated[batch, Tag("batch")],  # type: ignore[valid-type]
            Discriminator(lambda v: "batch" if isinstance(v, dict) and "instances" in v else "row"),
        ]
        return TypeAdapter(body)

    def encode_rows(self, rows: list[dict]) -> tuple[np.ndarray, list[Unknown]]:
        """Return (X: (n, width), unknowns) from rows validated by `request_adapter`, in order."""
        if self.numeric:
            # Validated rows are dicts in feature order, so their values, chained, are the
            # matrix; fromiter reads them in one pass (np.array on tuples costs twice as much).
            values = chain.from_iterable(map(dict.values, rows))
            X = np.fromiter(values, dtype=np.float64, count=len(rows) * len(self.specs))
            return X.reshape(len(rows), len(self.specs)), []
        return self.encode_lenient([[row[name] for row in rows] for name in self.names])

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
                if not set(map(type, values)) <= NUMBERS:
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
            bad, msg = check_numbers(spec, X[:, j])
            if bad is not None:
                problems.append(Problem(spec.name, j, bad.tolist(), msg))
        raise FeatureError(problems)

    def encode(self, columns: Sequence[Sequence | np.ndarray], dtype=np.float64) -> np.ndarray:
        """Return X: (n, width) from one raw column per feature; FeatureError on bad values.

        Numeric columns hold numbers (None for the missing values of nullable features);
        binary and categorical columns hold the values named in their specs. `dtype` float32
        halves the matrix of a large training set (a network trained in float32).
        """
        return self._encode(columns, strict=True, dtype=dtype)[0]

    def encode_lenient(self, columns: Sequence[Sequence | np.ndarray]) -> tuple[np.ndarray, list]:
        """Return (X, unknowns): `encode`, but a binary or categorical value never seen in
        training is no error: its cells in X are NaN and it is listed (a list of Unknown)."""
        return self._encode(columns, strict=False)

    def _encode(self, columns, strict: bool, dtype=np.float64) -> tuple[np.ndarray, list[Unknown]]:
        if len(columns) != len(self.specs):
            raise ValueError(f"expected {len(self.specs)} columns, got {len(columns)}")
        n = len(columns[0]) if len(columns) else 0
        if self.numeric:
            X = np.empty((n, len(self.specs)), dtype=dtype)
            problems = []
            for j, (spec, column) in enumerate(zip(self.specs, columns, strict=True)):
                try:
                    X[:, j] = numbers_of(column, spec)[0]
                except NotNumbers as exc:
                    problems.append(Problem(spec.name, j, exc.rows, NOT_A_NUMBER))
            if problems:
                raise FeatureError(problems)
            return self.check_matrix(X), []
        X = np.empty((n, self.width), dtype=dtype)
        problems: list[Problem] = []
        unknowns: list[Unknown] = []
        at = 0
        for j, (spec, column) in enumerate(zip(self.specs, columns, strict=True)):
            bad, msg, unknown = encode_column(spec, column, X[:, at : at + spec.width], strict)
            if bad is not None:
                problems.append(Problem(spec.name, j, bad.tolist(), msg))
            if unknown is not None:
                rows = unknown.tolist()
                unknowns.append(Unknown(spec.name, rows, [column[i] for i in rows]))
            at += spec.width
        if problems:
            raise FeatureError(problems)
        return X, unknowns


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
    return set(NUMBERS) if kind is float else {kind}  # a strict float takes JSON integers
