"""Training data as raw typed columns: numbers (NaN where missing), dates (NaT where missing)
or text as category codes (-1 where missing).

Every source (a CSV file or body, JSON rows, a built-in dataset) becomes a `Dataset`; column
typing (service/data/columns.py) and the feature rule (service/data/features.py) take it from
there. A Dataset travels to the trainer as bytes (`to_bytes`), never as a pickle.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field

import numpy as np
import orjson

from . import dates
from .categorical import Categorical, order

MAX_PROBLEMS = 20  # problems listed in one error; the count says how many more there were


class DatasetError(ValueError):
    """Training data that cannot be used; the message names the lines and columns."""


def problems_error(problems: list[str]) -> DatasetError:
    """Return one error listing up to MAX_PROBLEMS problems, each on its own line."""
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    tail = [f"... and {more} more problem{'s' if more > 1 else ''}"] if more else []
    if len(problems) == 1:
        return DatasetError(problems[0])
    return DatasetError(f"{len(problems)} problems in the data:\n  " + "\n  ".join(shown + tail))


Column = np.ndarray | Categorical  # float64 numbers, datetime64[s] dates, or text


def is_numeric(column: Column) -> bool:
    """Tell numbers (float64, NaN where missing) from dates and text."""
    return column.dtype.kind == "f"


def is_date(column: Column) -> bool:
    return column.dtype.kind == "M"


def missing(column: Column) -> np.ndarray:
    """Return the mask of missing cells of a column."""
    if isinstance(column, Categorical):
        return column.missing()
    if is_numeric(column):
        return np.isnan(column)
    if is_date(column):
        return np.isnat(column)
    return np.fromiter((v is None for v in column), dtype=bool, count=len(column))


@dataclass(frozen=True, eq=False)
class Dataset:
    """Feature columns and the target, with their names; every column has one value per row.

    columns[j]: float64 (NaN where missing), datetime64[s] (NaT where missing) or Categorical
    (text or bools, None where missing); y: the same, with no missing value (rows without a
    target are dropped when the data is read; `dropped` counts them).
    """

    features: list[str]
    target: str
    columns: list[Column]
    y: Column
    dropped: int = 0
    # How the data was read, for the summary: {"delimiter": "semicolon", "decimal": "comma"}
    # ("decimal" only when decimal commas were read).
    source: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.columns) != len(self.features):
            raise DatasetError("the number of feature names does not match the data")
        n = len(self.y)
        if n == 0:
            raise DatasetError("the dataset has no rows")
        if any(c.ndim != 1 or len(c) != n for c in [*self.columns, self.y]):
            raise DatasetError("features and target must have one value per row")
        if is_numeric(self.y) and not np.isfinite(self.y).all():
            raise DatasetError("the target contains NaN or infinite values")
        for name, column in zip(self.features, self.columns, strict=True):
            if is_numeric(column) and np.isinf(column).any():
                raise DatasetError(f"column {name!r} contains infinite values")

    @property
    def rows(self) -> int:
        return len(self.y)

    @property
    def X(self) -> np.ndarray:
        """Return the features as one float matrix: (rows, features); numeric data only."""
        if not all(is_numeric(c) for c in self.columns):
            raise DatasetError("the dataset has text columns: it has no numeric matrix")
        return np.column_stack(self.columns) if self.columns else np.empty((self.rows, 0))

    @classmethod
    def numeric(cls, features: list[str], target: str, X: np.ndarray, y: np.ndarray) -> Dataset:
        """Build a dataset from a float matrix X: (rows, features) and a numeric target y."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise DatasetError("features and target must have one value per row")
        columns = [X[:, j].copy() for j in range(X.shape[1])]
        return cls(list(features), target, columns, np.asarray(y, dtype=np.float64))

    def without(self, names: list[str]) -> Dataset:
        """Return the dataset without the named feature columns."""
        keep = [j for j, f in enumerate(self.features) if f not in names]
        return Dataset(
            [self.features[j] for j in keep],
            self.target,
            [self.columns[j] for j in keep],
            self.y,
            self.dropped,
            self.source,
        )

    def fingerprint(self) -> dict:
        """Identify the data without storing it: sha256 over names and values, and the rows.

        Text is hashed as its sorted categories and the codes into them, so the same values
        read from a CSV or from JSON rows give the same digest.
        """
        digest = hashlib.sha256(orjson.dumps([*self.features, self.target]))
        for column in [*self.columns, self.y]:
            if isinstance(column, Categorical):
                used = np.flatnonzero(column.counts())  # categories of rows left out: not data
                ranked = sorted(used.tolist(), key=lambda i: order(column.categories[i]))
                remap = np.full(len(column.categories) + 1, -1, dtype=np.int32)
                remap[ranked] = np.arange(len(ranked), dtype=np.int32)
                digest.update(orjson.dumps([column.categories[i] for i in ranked]))
                digest.update(remap[column.codes].view(np.uint8))
            else:
                digest.update(column.dtype.str.encode())
                digest.update(np.ascontiguousarray(column).view(np.uint8))
        return {"sha256": digest.hexdigest(), "rows": self.rows}

    # -- to the trainer and back: arrays, with text categories as JSON ---------------------

    def to_bytes(self) -> bytes:
        """Serialise for the job queue: an npz of arrays (categories as JSON bytes), no pickle."""
        arrays, head = {}, {"features": self.features, "target": self.target}
        head |= {"dropped": self.dropped, "source": self.source, "text": [], "categories": []}
        for j, column in enumerate([*self.columns, self.y]):
            if isinstance(column, Categorical):
                head["text"].append(j)
                head["categories"].append(column.categories)
                arrays[f"c{j}"] = column.codes
            else:
                arrays[f"c{j}"] = column
        out = io.BytesIO()
        np.savez(out, head=np.frombuffer(orjson.dumps(head), np.uint8), **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Dataset:
        """Read `to_bytes` output back (allow_pickle=False)."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            head = orjson.loads(npz["head"].tobytes())
            categories = dict(zip(head["text"], head["categories"], strict=True))
            columns: list[Column] = []
            for j in range(len(head["features"]) + 1):
                raw = npz[f"c{j}"]
                columns.append(Categorical(raw, categories[j]) if j in categories else raw)
        return cls(
            head["features"], head["target"], columns[:-1], columns[-1], head["dropped"],
            head["source"],
        )  # fmt: skip


def column_of(values: list, name: str) -> tuple[Column, list]:
    """Type one column of JSON values: numbers -> float64, ISO dates -> datetime64, other text
    or bools -> Categorical.

    Returns (column, problems). None is missing. A column that mixes numbers with text is a
    problem at its first text cell.
    """
    kinds = {type(v) for v in values} - {type(None)}
    if kinds <= {int, float}:
        column = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
        bad = np.flatnonzero(np.isinf(column))
        return column, [f"row {i}, column {name!r}: infinite value" for i in bad[:3]]
    if kinds & {int, float} and kinds - {int, float}:
        first = next(i for i, v in enumerate(values) if isinstance(v, str | bool))
        return Categorical.from_values(values), [
            f"row {first}, column {name!r}: mixes numbers and text"
        ]
    text = Categorical.from_values(values)
    if kinds == {str}:
        moments = dates.parse(text.categories)
        if moments is not None:
            return np.append(moments, np.datetime64("NaT"))[text.codes], []
    return text, []


def from_rows(rows: list[dict], target: str) -> Dataset:
    """Build a dataset from JSON rows that all have the same keys, one of them `target`."""
    if not rows:
        raise DatasetError("no rows given")
    names = list(rows[0])
    if target not in names:
        raise DatasetError(f"row 0 has no target field {target!r}; its fields: {names}")
    for i, row in enumerate(rows):
        if set(row) != set(names):
            extra, lacking = sorted(set(row) - set(names)), sorted(set(names) - set(row))
            raise DatasetError(
                f"row {i} fields differ from row 0: missing {lacking}, extra {extra}"
            )
    features = [n for n in names if n != target]
    if not features:
        raise DatasetError("rows need at least one feature besides the target")
    problems: list[str] = []
    columns = []
    for name in features:
        column, found = column_of([row[name] for row in rows], name)
        columns.append(column)
        problems += found
    y, found = column_of([row[target] for row in rows], target)
    problems += found
    if problems:
        raise problems_error(problems)
    keep = ~missing(y)
    if not keep.all():
        columns, y = [c[keep] for c in columns], y[keep]
    return Dataset(features, target, columns, y, dropped=int((~keep).sum()))
