"""The slower pass over a CSV that found problems: the line of each, for the error message.

Only run when the fast reader (csvfile.py) has something to report. Python's csv module walks
the records and notes the line each one ends on, so a problem the fast reader found in data
row i is reported at its line in the file, as a spreadsheet shows it. No cell value is echoed.
"""

from __future__ import annotations

import csv
import io

import numpy as np

NOT_A_NUMBER = "not a number in a column of numbers (if it marks a missing value, add it to --na)"


def _records(text: str, delimiter: str, width: int, header: bool = True):
    """Yield (line, cells or None for a row of the wrong width, its cell count) per data row
    as the fast reader counts them: empty lines and lines of spaces left out."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        if header:
            next(reader, None)
        for row in reader:
            if not row or (len(row) != width and not any(c.strip() for c in row)):
                continue
            yield reader.line_num, row if len(row) == width else None, len(row)
    except csv.Error:  # a stray carriage return: the rows before it are located, not the rest
        return


def blank_rows(text: str, delimiter: str, width: int) -> np.ndarray:
    """Return, per data row, whether every cell is empty or spaces (;;; rows from Excel)."""
    flags = [
        not any(c.strip() for c in cells)
        for _, cells, _ in _records(text, delimiter, width)
        if cells is not None
    ]
    return np.array(flags, dtype=bool)


def problems(text: str, delimiter: str, header: list[str], typed: dict) -> list[str]:
    """Return every problem, located: rows of the wrong width, then each column's bad cells.

    typed: column name -> cells.Typed, whose `words` and `infinite` are data row indices as
    the fast reader counted them (rows of the wrong width and empty lines left out).
    """
    width = len(header)
    found: list[str] = []
    lines: list[int] = []
    for line, cells, count in _records(text, delimiter, width):
        if cells is None:
            found.append(f"line {line}: expected {width} cells, found {count}")
        else:
            lines.append(line)
    for name, column in typed.items():
        for rows, what in ((column.infinite, "infinite value"), (column.words, NOT_A_NUMBER)):
            found += [f"{_where(lines, int(i))}, column {name!r}: {what}" for i in rows]
    return found


def _where(lines: list[int], row: int) -> str:
    # The two parsers agree on rows in every file we know of; if one day they do not, the
    # data row's number still points at the right record.
    return f"line {lines[row]}" if row < len(lines) else f"data row {row + 1}"


def piece_lines(text: str, delimiter: str, width: int, first: int) -> tuple[list[int], list[str]]:
    """Locate the rows of a piece of a file without its header, starting at line `first`.

    Returns the line of each row a scoring reader keeps (the right width, not all blank) and
    the problems of the rows of the wrong width, in order.
    """
    kept, found = [], []
    for line, cells, count in _records(text, delimiter, width, header=False):
        at = line + first - 1
        if cells is None:
            found.append(f"line {at}: expected {width} cells, found {count}")
        elif any(c.strip() for c in cells):
            kept.append(at)
    return kept, found
