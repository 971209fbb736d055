"""Read a CSV as people save them: any common delimiter, a byte-order mark, quotes, CRLF, decimal
commas, and missing cells written as empty, NA, NaN, null or ? (the markers are configurable).

Apache Arrow's CSV reader parses the file into typed columns (multi-threaded, no Python object
per cell); `cells` decides what each text column holds. A column of numbers is float64 (NaN
where missing), a column of ISO dates datetime64, any other text categories (service/data/
categorical.py). Rows without a target value are dropped and counted. When something is wrong
(a row with the wrong number of cells, a word among numbers, an infinite value), a second,
slower pass (`locate`) finds the line of each problem; cell values are never echoed.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import arrowcsv, locate
from .dataset import Dataset, DatasetError, missing, problems_error

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
DECIMALS = {".": "point", ",": "comma"}
# What a flag, a query or a form may say: the character or its name.
BY_NAME = {
    "sep": {name: char for char, name in DELIMITER_NAMES.items()},
    "decimal": {name: char for char, name in DECIMALS.items()},
}


def named(option: str, value: str | None) -> str | None:
    """Return the delimiter ("sep") or decimal mark ("decimal") a value names, or the value."""
    return BY_NAME[option].get(value, value) if isinstance(value, str) else value


MISSING = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?", "#N/A", "-")
SAMPLE_LINES = 50  # lines read to detect the delimiter and the decimal mark
SAMPLE_BYTES = 1 << 16
BOM = b"\xef\xbb\xbf"
_COMMA_DECIMAL = re.compile(r"\s*[+-]?\d+,\d+\s*")
_POINT_DECIMAL = re.compile(r"\s*[+-]?\d*\.\d+\s*")


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


def detect_decimal(text: str, delimiter: str) -> str:
    """Return "," when the first lines' unquoted numbers are written 1,5 and none 1.5; else ".".

    Only where the delimiter is not a comma (Excel in much of Europe: semicolons). A quoted
    "1,5" is text by the writer's choice and does not count.
    """
    if delimiter == ",":
        return "."
    commas = points = 0
    for line in text.splitlines()[1:SAMPLE_LINES]:
        for cell in line.split(delimiter):
            commas += bool(_COMMA_DECIMAL.fullmatch(cell))
            points += bool(_POINT_DECIMAL.fullmatch(cell))
    return "," if commas and not points else "."


def read_csv_text(text: str, target: str, **options) -> Dataset:
    """Parse CSV text with a header row; `target` names the column to predict.

    Options as `read_csv_bytes`: sep, na, exclude, max_rows, decimal.
    """
    return read_csv_bytes(text.removeprefix("\ufeff").encode("utf-8"), target, **options)


def read_csv_file(path: str | Path, target: str, **options) -> Dataset:
    """Read a CSV file (UTF-8, with or without a byte-order mark); see `read_csv_bytes`."""
    try:
        data = pa.memory_map(str(path)).read_buffer()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DatasetError(f"cannot read {path}: {reason}") from None
    try:
        return read_csv_bytes(data, target, **options)
    except _NotUtf8:
        raise DatasetError(f"cannot read {path}: it is not UTF-8 text") from None


class _NotUtf8(DatasetError):
    def __init__(self) -> None:
        super().__init__("the CSV is not UTF-8 text: save it as UTF-8 (CSV UTF-8 in Excel)")


def read_csv_bytes(
    data: bytes | pa.Buffer,
    target: str,
    *,
    sep: str | None = None,
    na: tuple[str, ...] = MISSING,
    exclude: tuple[str, ...] = (),
    max_rows: int | None = None,
    decimal: str | None = None,
) -> Dataset:
    """Read UTF-8 CSV bytes (a byte-order mark is skipped); `target` names the column to predict.

    `sep` (one of DELIMITERS) and `decimal` ("." or ",") are detected when None; cells equal to
    one of `na` (stripped, any letter case) are missing; `exclude` names columns to leave out.
    Every problem found (up to 20 listed) is reported at once, with its line and column.
    """
    buffer = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
    if buffer.size >= 3 and buffer.slice(0, 3).to_pybytes() == BOM:
        buffer = buffer.slice(3)
    sample = sample_of(buffer)
    delimiter = sep or detect_delimiter(sample)
    header = header_of(sample, delimiter)
    _check_header(header, target, exclude, delimiter)
    point = decimal_of(sample, delimiter, decimal)
    keep = [h for h in header if h not in exclude]
    markers = sorted({m.strip().lower() for m in na})
    try:
        arrays, flagged = arrowcsv.parse(buffer, header, keep, delimiter, point, na)
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc):
            raise _NotUtf8() from None
        _raise_located(buffer, delimiter, header, {})
        raise DatasetError(
            "the CSV cannot be read: check that every quoted cell is closed"
        ) from None
    if max_rows is not None and len(arrays[target]) > max_rows:
        raise DatasetError(f"the CSV has more than {max_rows} rows")
    typed = arrowcsv.typed(arrays, markers, point)
    if flagged or any(t.words.size or t.infinite.size for t in typed.values()):
        _raise_located(buffer, delimiter, header, typed)
    source = {"delimiter": DELIMITER_NAMES.get(delimiter, repr(delimiter))}
    if point != ".":
        source["decimal"] = DECIMALS[point]
    columns = {n: t.column for n, t in typed.items()}
    return _dataset(columns, target, source, lambda: _blank_rows(buffer, delimiter, header))


def decimal_of(sample: str, delimiter: str, decimal: str | None) -> str:
    """Return the decimal mark asked for, or the one the sample's numbers use."""
    point = decimal or detect_decimal(sample, delimiter)
    if point not in DECIMALS or point == delimiter:
        raise DatasetError("the decimal mark must be '.' or ',' and differ from the delimiter")
    return point


def sample_of(buffer: pa.Buffer) -> str:
    """Return the first bytes as text (a character cut at the end is left out)."""
    head = buffer.slice(0, min(buffer.size, SAMPLE_BYTES)).to_pybytes()
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3 or len(head) < SAMPLE_BYTES:
            raise _NotUtf8() from None
        return head[: exc.start].decode("utf-8")


def header_of(sample: str, delimiter: str) -> list[str]:
    """Return the column names of the header row (the sample's first record)."""
    try:
        header = next(csv.reader(io.StringIO(sample), delimiter=delimiter), None)
    except csv.Error:  # e.g. a carriage return inside an unquoted name
        raise DatasetError("the CSV's header row cannot be read: check its quotes") from None
    if not header or not any(h.strip() for h in header):
        raise DatasetError("the CSV is empty: a header row is required")
    # An unnamed column (R's row names, a spreadsheet's index) is named by its position.
    return [h.strip() or f"column_{j + 1}" for j, h in enumerate(header)]


def _text(buffer: pa.Buffer) -> str:
    try:
        return buffer.to_pybytes().decode("utf-8")
    except UnicodeDecodeError:
        raise _NotUtf8() from None


def _raise_located(buffer: pa.Buffer, delimiter: str, header: list[str], typed: dict) -> None:
    """Find the line of every problem with the slower pass; raise them if there are any."""
    problems = locate.problems(_text(buffer), delimiter, header, typed)
    if problems:
        raise problems_error(problems)


def _blank_rows(buffer: pa.Buffer, delimiter: str, header: list[str]) -> np.ndarray:
    return locate.blank_rows(_text(buffer), delimiter, len(header))


def _dataset(columns: dict, target: str, source: dict, blank_rows) -> Dataset:
    """Leave out blank rows, drop rows without a target, and build the Dataset.

    A row whose cells are all missing is a blank line (;;; from Excel) if every cell is empty
    or spaces, and a row without a target otherwise: only the slower pass can tell, so it
    runs only when there are such rows.
    """
    gaps = {name: missing(column) for name, column in columns.items()}
    blank = np.logical_and.reduce(list(gaps.values()))
    if blank.any():
        raw = blank_rows()
        blank &= raw if raw.shape == blank.shape else False
    if blank.all():
        raise DatasetError("the CSV has a header but no data rows")
    present = ~gaps[target]
    if not present[~blank].any():
        raise DatasetError(f"every row's target {target!r} is missing")
    keep = present & ~blank
    if not keep.all():
        columns = {name: column[keep] for name, column in columns.items()}
    y = columns.pop(target)
    dropped = int((~present & ~blank).sum())
    return Dataset(list(columns), target, list(columns.values()), y, dropped, source)


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
