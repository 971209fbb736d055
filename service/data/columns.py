"""Column typing: what kind of feature each training column is, worked out from its values.

numeric: numbers, standardised for the network; missing values imputed with the median.
binary: exactly two values of any kind (0/1, yes/no, true/false, two words), no missing value.
categorical: text with a handful of values, one-hot; a missing value is a category of its own.
Text with about one distinct value per row (an identifier, a name) is refused: it cannot
generalise, and the message says how to leave the column out.
"""

from __future__ import annotations

import numpy as np

from .dataset import Dataset, is_numeric, missing, problems_error
from .features import FeatureSpec

ID_LIKE = 0.9  # distinct values per row above which text is an identifier, not a category
ID_MIN_ROWS = 20  # below this many rows every text column looks unique: not judged
MAX_CATEGORIES = 100


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


def type_column(name: str, column: np.ndarray) -> tuple[FeatureSpec | None, str | None]:
    """Return (spec, None) for a usable column, or (None, why not)."""
    gaps = missing(column)
    present = column[~gaps]
    if present.size == 0:
        return None, f"column {name!r} has no values: leave it out with --exclude {name}"
    nullable = bool(gaps.any())
    if is_numeric(column):
        low, high = float(present.min()), float(present.max())
        distinct = np.unique(present)
        if _row_numbers(distinct, present.size):
            return None, (
                f"column {name!r} looks like row numbers or ids (every value a different whole "
                f"number, {low:g} to {high:g}): it cannot help predict; leave it out with "
                f"--exclude {name}"
            )
        if not nullable and distinct.size == 2 and set(distinct.tolist()) == {0.0, 1.0}:
            return FeatureSpec(name=name, type="binary", min=0, max=1, values=[0, 1]), None
        median = float(np.median(present))
        kind = {"name": name, "type": "numeric", "min": low, "max": high}
        return FeatureSpec(**kind, nullable=nullable, impute=median if nullable else None), None
    values = sorted(set(present.tolist()), key=_order)
    if len(values) == 2 and not nullable:
        return FeatureSpec(name=name, type="binary", values=values), None
    rows = present.size
    if rows >= ID_MIN_ROWS and len(values) >= ID_LIKE * rows:
        return None, (
            f"column {name!r} looks like an identifier ({len(values)} distinct values in "
            f"{rows} rows): it cannot help predict; leave it out with --exclude {name}"
        )
    if len(values) > MAX_CATEGORIES:
        return None, (
            f"column {name!r} has {len(values)} categories (at most {MAX_CATEGORIES}); "
            f"leave it out with --exclude {name}"
        )
    return FeatureSpec(name=name, type="categorical", values=values, nullable=nullable), None


def _row_numbers(distinct: np.ndarray, rows: int) -> bool:
    """Tell a column of row numbers or ids: every value a different whole number, densely
    packed (a sample of 1..n keeps most of them: at most twice as many numbers as rows)."""
    return (
        rows >= ID_MIN_ROWS
        and distinct.size == rows
        and bool(np.all(distinct == np.round(distinct)))
        and distinct[-1] - distinct[0] + 1 <= 2 * rows
    )


def _order(value) -> tuple:
    """Sort text before booleans, each in natural order (False before True)."""
    return (isinstance(value, bool), value)
