"""Read a CSV as people save them: any common delimiter, a byte-order mark, quotes, CRLF, and
missing cells written as empty, NA, NaN, null or ? (the markers are configurable).

A column whose cells all read as numbers is numeric (NaN where missing); any other is text
(None where missing). A column that is numeric but for a few cells reports those cells.
Rows without a target value are dropped and counted.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from .dataset import Dataset, DatasetError, _objects, problems_error

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
MISSING = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?", "#N/A", "-")
MOSTLY_NUMBERS = 0.9  # a column with this share of numbers is numeric; the rest are errors
SAMPLE_LINES = 50  # lines read to detect the delimiter


def detect_delimiter(text: str) -> str:
    """Return the delimiter that splits the first lines into the most equal, widest rows."""
    lines = text.splitlines()[:SAMPLE_LINES]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        rows = [r for r in csv.reader(lines, delimiter=delimiter) if r]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(len(r) == width for r in rows), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv_text(
    text: str,
    target: str,
    *,
    sep: str | None = None,
    na: tuple[str, ...] = MISSING,
    exclude: tuple[str, ...] = (),
    max_rows: int | None = None,
) -> Dataset:
    """Parse CSV text with a header row; `target` names the column to predict.

    Every problem found (up to 20 listed) is reported at once, with its line and column.
    """
    text = text.removeprefix("\ufeff")  # Excel's UTF-8 byte-order mark
    delimiter = sep or detect_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise DatasetError("the CSV is empty: a header row is required")
    # An unnamed column (R's row names, a spreadsheet's index) is named by its position.
    header = [h.strip() or f"column_{j + 1}" for j, h in enumerate(header)]
    _check_header(header, target, exclude, delimiter)
    keep = [j for j, h in enumerate(header) if h not in exclude]
    cells: list[list[str]] = [[] for _ in header]
    lines: list[int] = []
    problems: list[str] = []
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue  # blank lines, including the trailing one
        if len(row) != len(header):
            problems.append(f"line {line}: expected {len(header)} cells, found {len(row)}")
            continue
        for j in keep:
            cells[j].append(row[j].strip())
        lines.append(line)
        if max_rows is not None and len(lines) > max_rows:
            raise DatasetError(f"the CSV has more than {max_rows} rows")
    if not lines and not problems:
        raise DatasetError("the CSV has a header but no data rows")
    markers = {m.strip().lower() for m in na}
    columns = {header[j]: _column(cells[j], header[j], lines, markers, problems) for j in keep}
    if problems:
        raise problems_error(problems)
    y = columns.pop(target)
    present = ~(np.isnan(y) if y.dtype.kind == "f" else _nones(y))
    if not present.any():
        raise DatasetError(f"every row's target {target!r} is missing")
    features = list(columns)
    source = {"delimiter": DELIMITER_NAMES.get(delimiter, repr(delimiter))}
    return Dataset(
        features,
        target,
        [c[present] for c in columns.values()],
        y[present],
        dropped=int((~present).sum()),
        source=source,
    )


def read_csv_file(path: str | Path, target: str, **options) -> Dataset:
    """Read a CSV file (UTF-8, with or without a byte-order mark); see `read_csv_text`."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise DatasetError(f"cannot read {path}: {reason or exc}") from None
    return read_csv_text(text, target, **options)


def _check_header(header: list[str], target: str, exclude: tuple[str, ...], delimiter: str):
    found = ", ".join(repr(h) for h in header)
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise DatasetError(f"the CSV header repeats a column name: {', '.join(repeated)}")
    if target not in header:
        hint = f" (read as {DELIMITER_NAMES.get(delimiter, repr(delimiter))}-separated)"
        raise DatasetError(f"target column {target!r} is not in the CSV; columns: {found}{hint}")
    unknown = [c for c in exclude if c not in header]
    if unknown:
        raise DatasetError(f"--exclude names columns not in the CSV: {unknown}; columns: {found}")
    if target in exclude:
        raise DatasetError(f"the target {target!r} cannot be excluded")
    if len(header) - len(exclude) < 2:
        raise DatasetError("the CSV needs at least one feature column besides the target")


def _column(
    cells: list[str], name: str, lines: list[int], markers: set[str], problems: list[str]
) -> np.ndarray:
    """Type one column's cells: numbers when (nearly) all read as numbers, text otherwise."""
    values: list[float | None] = []
    present = 0
    bad: list[int] = []
    for i, cell in enumerate(cells):
        if cell.lower() in markers:
            values.append(None)
            continue
        present += 1
        try:
            number = float(cell)
        except ValueError:
            bad.append(i)
            values.append(None)
            continue
        if not math.isfinite(number):
            problems.append(f"line {lines[i]}, column {name!r}: infinite value")
        values.append(number)
    if present and len(bad) <= (1 - MOSTLY_NUMBERS) * present:
        for i in bad:
            problems.append(
                f"line {lines[i]}, column {name!r}: not a number in a column of numbers "
                "(if it marks a missing value, add it to --na)"
            )
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    return _objects([None if c.lower() in markers else c for c in cells])


def _nones(column: np.ndarray) -> np.ndarray:
    return np.fromiter((v is None for v in column), dtype=bool, count=len(column))
