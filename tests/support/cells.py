"""CSV cells as nns-train reads them, for the tests and the benchmarks' data tools: a file as
rows of text, and which cells are missing (the product's markers, stripped, in any case)."""

from __future__ import annotations

import csv
from pathlib import Path

from service.data.csvfile import MISSING

MARKERS = frozenset(m.strip().lower() for m in MISSING)


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """Return (header, rows) of a CSV file, cells as text; blank lines are skipped."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f) if row and any(c.strip() for c in row)]
    return rows[0], rows[1:]


def is_missing(cell: str) -> bool:
    """True for a cell nns-train reads as missing: empty, or one of its markers."""
    return cell.strip().lower() in MARKERS
