"""Column typing: what kind of feature each training column is, worked out from its values.

numeric: numbers, standardised for the network; missing values imputed with the median.
binary: exactly two values of any kind (0/1, yes/no, true/false, two words), no missing value.
categorical: text with a handful of values, one-hot; a missing value is a category of its own.
date: ISO-8601 dates or datetimes, as days since 1970-01-01; missing values imputed with the
median.
Columns that cannot generalise are refused, with the way to leave them out: text with about
one distinct value per row (an identifier, a name), and row numbers or ids, told by their name
(id, rownames, index, an empty header) or by their values (every value a different whole
number, densely packed or increasing down the file).
"""

from __future__ import annotations

import re

import numpy as np

from . import dates
from .categorical import Categorical, order
from .dataset import Column, Dataset, is_date, missing, problems_error
from .features import FeatureSpec

ID_LIKE = 0.9  # distinct values per row above which text is an identifier, not a category
ID_MIN_ROWS = 20  # below this many rows every column looks unique: not judged by its values
MAX_CATEGORIES = 100
# Row numbers and ids by name, in any letter case: R's row names, pandas' saved index, a
# spreadsheet's; column_N is what the CSV reader calls a column whose header is empty.
ID_NAMES = re.compile(r"\s*(id|rownames|row\.names|index|unnamed: ?\d+|column_\d+|)\s*", re.I)


def feature_specs(data: Dataset) -> list[FeatureSpec]:
    """Type every feature column of `data`; DatasetError lists every column it cannot use."""
    specs, problems = [], []
    for name, column in zip(data.features, data.columns, strict=True):
        spec, problem = type_column(name, column)
        if problem:
            problems.append(problem)
        else:
            specs.append(spec)
    if problems:
        raise problems_error(problems)
    return specs


def type_column(name: str, column: Column) -> tuple[FeatureSpec | None, str | None]:
    """Return (spec, None) for a usable column, or (None, why not)."""
    leave_out = f"it cannot help predict; leave it out with --exclude {name}"
    if ID_NAMES.fullmatch(name):
        return None, f"column {name!r} looks like row numbers or ids (by its name): {leave_out}"
    gaps = missing(column)
    if gaps.all():
        return None, f"column {name!r} has no values: leave it out with --exclude {name}"
    if isinstance(column, Categorical):
        return _categories(name, column, bool(gaps.any()), leave_out)
    if is_date(column):
        days = dates.days(column[~gaps])
        low, high, median = float(days.min()), float(days.max()), float(np.median(days))
        nullable = bool(gaps.any())
        impute = median if nullable else None
        return FeatureSpec(
            name=name, type="date", min=low, max=high, nullable=nullable, impute=impute
        ), None
    present = column[~gaps]
    nullable = bool(gaps.any())
    low, high = float(present.min()), float(present.max())
    # Only whole numbers can be ids or 0/1; measurements skip the sort that tells them.
    whole = bool(np.all(np.floor(present) == present))
    distinct = np.unique(present) if whole else None
    if distinct is not None and _row_numbers(present, distinct):
        return None, (
            f"column {name!r} looks like row numbers or ids (every value a different whole "
            f"number, {low:g} to {high:g}): {leave_out}"
        )
    if not nullable and distinct is not None and distinct.tolist() == [0.0, 1.0]:
        return FeatureSpec(name=name, type="binary", min=0, max=1, values=[0, 1]), None
    impute = float(np.median(present)) if nullable else None
    kind = {"name": name, "type": "numeric", "min": low, "max": high}
    return FeatureSpec(**kind, nullable=nullable, impute=impute), None


def _categories(name: str, column: Categorical, nullable: bool, leave_out: str):
    counts = column.counts()
    values = sorted((v for v, k in zip(column.categories, counts, strict=True) if k), key=order)
    if len(values) == 2 and not nullable:
        return FeatureSpec(name=name, type="binary", values=values), None
    rows = int(counts.sum())
    if rows >= ID_MIN_ROWS and len(values) >= ID_LIKE * rows:
        return None, (
            f"column {name!r} looks like an identifier ({len(values)} distinct values in "
            f"{rows} rows): {leave_out}"
        )
    if len(values) > MAX_CATEGORIES:
        return None, (
            f"column {name!r} has {len(values)} categories (at most {MAX_CATEGORIES}); "
            f"leave it out with --exclude {name}"
        )
    return FeatureSpec(name=name, type="categorical", values=values, nullable=nullable), None


def _row_numbers(present: np.ndarray, distinct: np.ndarray) -> bool:
    """Tell whole numbers that are row numbers or ids: every value different, and either
    densely packed (a sample of 1..n keeps most of them: at most twice as many numbers as
    rows) or increasing down the file (ids handed out in order, then sampled).

    Not every column of distinct whole numbers: in R's datasets, vote counts, incomes and
    populations per county are too (64 such columns in 1516 files), and they are features.
    """
    rows = present.size
    if rows < ID_MIN_ROWS or distinct.size != rows:
        return False
    return distinct[-1] - distinct[0] + 1 <= 2 * rows or bool(np.all(np.diff(present) > 0))
