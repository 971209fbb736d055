"""Training data: built-in datasets, CSV text and inline rows, as one `Dataset` shape."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BUILTIN = ("diabetes", "xor", "moons")
MOONS_SAMPLES, MOONS_NOISE = 500, 0.2  # moons' defaults everywhere (CLI, HTTP, jobs)

# The product's seed table: smoking, obesity, exercise -> diabetic.
DIABETES_FEATURES = ["smoking", "obesity", "exercise"]
DIABETES_ROWS = [
    [0, 1, 0, 1],
    [0, 0, 1, 0],
    [1, 0, 0, 0],
    [1, 1, 0, 1],
    [1, 1, 1, 1],
]


class DatasetError(ValueError):
    """Training data that cannot be used; the message names the line or column."""


@dataclass(frozen=True)
class Dataset:
    """Feature matrix and target with their names. X: (n_rows, n_features), y: (n_rows,)."""

    features: list[str]
    target: str
    X: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.y.shape != (self.X.shape[0],):
            raise DatasetError("features and target must have one value per row")
        if self.X.shape[0] == 0:
            raise DatasetError("the dataset has no rows")
        if self.X.shape[1] != len(self.features):
            raise DatasetError("the number of feature names does not match the data")
        if not (np.isfinite(self.X).all() and np.isfinite(self.y).all()):
            raise DatasetError("the data contains NaN or infinite values")


def diabetes() -> Dataset:
    """Return the five-row diabetes table."""
    table = np.asarray(DIABETES_ROWS, dtype=np.float64)
    return Dataset(list(DIABETES_FEATURES), "diabetic", table[:, :3], table[:, 3])


def xor() -> Dataset:
    """Return the four XOR rows."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return Dataset(["x1", "x2"], "y", X, np.array([0.0, 1.0, 1.0, 0.0]))


def make_moons(
    n_samples: int = MOONS_SAMPLES, noise: float = MOONS_NOISE, *, seed: int = 0
) -> Dataset:
    """Return two interleaving half circles with Gaussian noise, as scikit-learn draws them."""
    if n_samples < 2:
        raise DatasetError("moons needs at least 2 samples")
    if not (math.isfinite(noise) and noise >= 0):
        raise DatasetError("moons noise must be a finite number >= 0")
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    X = np.vstack(
        [
            np.column_stack([np.cos(outer), np.sin(outer)]),
            np.column_stack([1 - np.cos(inner), 1 - np.sin(inner) - 0.5]),
        ]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    X += rng.normal(scale=noise, size=X.shape)
    order = rng.permutation(n_samples)
    return Dataset(["x1", "x2"], "label", X[order], y[order])


def builtin(
    name: str, *, samples: int = MOONS_SAMPLES, noise: float = MOONS_NOISE, seed: int = 0
) -> Dataset:
    """Return the built-in dataset called `name`."""
    if name == "diabetes":
        return diabetes()
    if name == "xor":
        return xor()
    if name == "moons":
        return make_moons(samples, noise, seed=seed)
    raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(BUILTIN)}")


def _number(cell: str, line: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise DatasetError(f"line {line}, column {column!r}: not a number") from None
    if not math.isfinite(value):
        raise DatasetError(f"line {line}, column {column!r}: NaN or infinite value")
    return value


def from_csv_text(text: str, target: str, *, max_rows: int | None = None) -> Dataset:
    """Parse CSV with a header row; `target` names the column to predict."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise DatasetError("the CSV is empty: a header row is required")
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        raise DatasetError("the CSV header repeats a column name")
    if target not in header:
        raise DatasetError(f"target column {target!r} is not in the CSV header")
    if len(header) < 2:
        raise DatasetError("the CSV needs at least one feature column besides the target")
    rows = []
    for line, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue  # blank lines, including the trailing one
        if len(row) != len(header):
            raise DatasetError(f"line {line}: expected {len(header)} cells, found {len(row)}")
        rows.append([_number(c, line, col) for c, col in zip(row, header, strict=True)])
        if max_rows is not None and len(rows) > max_rows:
            raise DatasetError(f"the CSV has more than {max_rows} rows")
    if not rows:
        raise DatasetError("the CSV has a header but no data rows")
    table = np.asarray(rows, dtype=np.float64)
    t = header.index(target)
    features = [h for i, h in enumerate(header) if i != t]
    return Dataset(features, target, np.delete(table, t, axis=1), table[:, t])


def from_csv_file(path: str | Path, target: str) -> Dataset:
    """Read a CSV file; see `from_csv_text`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    return from_csv_text(text, target)


def from_rows(rows: list[dict[str, float]], target: str) -> Dataset:
    """Build a dataset from dicts that all have the same keys, one of them `target`."""
    if not rows:
        raise DatasetError("no rows given")
    names = list(rows[0])
    if target not in names:
        raise DatasetError(f"row 0 has no target field {target!r}")
    for i, row in enumerate(rows):
        if set(row) != set(names):
            missing = sorted(set(names) - set(row))
            extra = sorted(set(row) - set(names))
            raise DatasetError(
                f"row {i} fields differ from row 0: missing {missing}, extra {extra}"
            )
    features = [n for n in names if n != target]
    if not features:
        raise DatasetError("rows need at least one feature besides the target")
    X = np.array([[row[f] for f in features] for row in rows], dtype=np.float64)
    y = np.array([row[target] for row in rows], dtype=np.float64)
    return Dataset(features, target, X, y)
