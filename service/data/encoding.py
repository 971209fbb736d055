"""How one feature's raw values become its columns of the network's input, checked on the way.

Used by FeatureSet (service/data/features.py) for every source: typed NumPy columns and
category codes from training data, Python lists from JSON rows, arrays from V2 tensors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import dates
from .categorical import Categorical
from .featurespec import FeatureSpec, listing

NUMBERS = {int, float}
NOT_A_NUMBER = "must be a number"


def check_numbers(spec: FeatureSpec, values: np.ndarray) -> tuple[np.ndarray | None, str]:
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


def encode_column(
    spec: FeatureSpec, column, out: np.ndarray, strict: bool = True
) -> tuple[np.ndarray | None, str, np.ndarray | None]:
    """Write one feature's encoding into out: (n, width); return (bad rows, message, unknown).

    Unknown rows hold a value of a binary or categorical feature never seen in training (not a
    missing one): with `strict` they are bad rows; otherwise their cells are written as NaN,
    for the caller to score them at the training average, and returned.
    """
    if spec.type == "date":
        return (*_encode_dates(spec, column, out), None)
    if spec.takes_numbers:
        try:
            values, missing = numbers_of(column, spec)
        except NotNumbers as exc:
            null = " or null" if spec.nullable else ""
            return np.array(exc.rows), NOT_A_NUMBER + null, None
        if missing is not None:
            values[missing] = spec.impute if spec.impute is not None else 0.0
        out[:, 0] = values
        return (*check_numbers(spec, values), None)
    return _encode_values(spec, column, out, strict)


def _encode_values(
    spec: FeatureSpec, column, out: np.ndarray, strict: bool
) -> tuple[np.ndarray | None, str, np.ndarray | None]:
    """Encode a binary or categorical feature's values (0/1, or one-hot)."""
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
        out[...] = codes[:, None] == np.arange(out.shape[1])  # one-hot; a bad code: all zeros
    if not bad.size:
        return None, "", None
    null = " or null" if spec.nullable else ""
    message = f"accepts only one of {listing(allowed)}{null}"
    if strict:
        return bad, message, None
    gaps = _missing(column, bad)  # a missing value the feature does not take is still bad
    unknown = bad[~gaps]
    out[unknown] = np.nan
    return (bad[gaps] if gaps.any() else None), message, (unknown if unknown.size else None)


def _missing(column, rows: np.ndarray) -> np.ndarray:
    """Return, for each of `rows`, whether the column's value there is missing."""
    if isinstance(column, Categorical):
        return column.codes[rows] < 0
    if isinstance(column, np.ndarray) and column.dtype.kind == "f":
        return np.isnan(column[rows])
    return np.array([column[i] is None for i in rows], dtype=bool)


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


def numbers_of(column, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (float64 copy of a column of numbers, mask of its missing values or None).

    A typed NumPy column (a V2 tensor) is taken as numbers; in a Python sequence, only int and
    float are (never bool or text): anything else raises NotNumbers with its rows. Numbers
    beyond float64's range become infinite and fail the finite check.
    """
    if isinstance(column, np.ndarray) and column.dtype.kind in "biuf":
        values = column.astype(np.float64).reshape(-1)
        # A nullable feature's NaN is a missing value (training data, V2 tensors); otherwise
        # NaN is refused by the finite check.
        gaps = np.isnan(values) if spec.nullable else None
        return values, gaps if gaps is not None and gaps.any() else None
    kinds = NUMBERS | ({type(None)} if spec.nullable else set())
    if not set(map(type, column)) <= kinds:
        raise NotNumbers([i for i, v in enumerate(column) if type(v) not in kinds])
    missing = None
    if spec.nullable:
        flags = np.fromiter((v is None for v in column), dtype=bool, count=len(column))
        if flags.any():
            missing, column = flags, [0.0 if v is None else v for v in column]
    try:
        return np.asarray(column, dtype=np.float64).reshape(-1), missing
    except OverflowError:  # a Python int beyond float64: the same as an infinite value
        return np.array([_float(v) for v in column], dtype=np.float64), missing


class NotNumbers(ValueError):
    def __init__(self, rows: list[int]) -> None:
        super().__init__("not numbers")
        self.rows = rows


def _float(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf
