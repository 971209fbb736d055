"""Read a CSV of any length in pieces of whole records, in bounded memory: what scoring reads.

The dialect is found on the first bytes as the training reader finds it (service/data/csvfile.py:
delimiter, decimal mark, byte-order mark, header); then Arrow parses about a megabyte of whole
records at a time into columns of raw cell text. A record ends at a line break outside quotes,
so a quoted line break never splits one. Each piece knows the line it starts on, so a bad cell
is reported at its line in the file, as in training. Empty lines and rows of empty cells (;;;
from Excel) are left out, as training leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import locate
from .csvfile import BOM, SAMPLE_BYTES, decimal_of, detect_delimiter, header_of, sample_of
from .dataset import DatasetError

PIECE_BYTES = 1 << 20  # bytes of records parsed at once
MAX_RECORD = 16 << 20  # one record longer than this is an unclosed quote, not data
NEWLINE, QUOTE = 10, 34


@dataclass(frozen=True)
class Layout:
    """How the file is written: its delimiter, decimal mark and column names."""

    delimiter: str
    decimal: str
    header: list[str]  # the names as training reads them: stripped, an empty one column_N


@dataclass
class Piece:
    """Whole records of the file, as text columns (rows of the wrong width left out)."""

    line: int  # the line of the file its first record starts on
    text: bytes
    cells: dict[str, pa.Array]  # column name -> one raw cell text per row
    layout: Layout
    odd: bool = False  # some row had the wrong number of cells
    _lines: list[int] | None = field(default=None, repr=False)

    @property
    def rows(self) -> int:
        return len(next(iter(self.cells.values())))

    def located(self) -> tuple[list[int], list[str]]:
        """Return the file line of each row, and the rows of the wrong width as problems."""
        lines, odd = locate.piece_lines(
            self.text.decode("utf-8"), self.layout.delimiter, len(self.layout.header), self.line
        )
        self._lines = lines
        return lines, odd

    def line_of(self, row: int) -> int:
        """Return the file line of one row (for error messages; walks the piece once)."""
        if self._lines is None:
            self.located()
        lines = self._lines or []
        return lines[row] if row < len(lines) else self.line + row


Read = Callable[[int], bytes]  # read(n): up to n bytes, b"" at the end


class CsvPieces:
    """Iterate a CSV's pieces; `layout` is known once the first bytes are read.

    `read` gives the file's bytes; `sep` and `decimal` force the dialect (None: detected).
    `consumed` counts the bytes read so far (for a progress bar).
    """

    def __init__(
        self, read: Read, sep: str | None = None, decimal: str | None = None,
        piece_bytes: int | None = None,
    ) -> None:  # fmt: skip
        self._read, self.piece_bytes = read, piece_bytes or PIECE_BYTES
        self.consumed = 0
        head = self._take(max(SAMPLE_BYTES, self.piece_bytes))
        head = head.removeprefix(BOM)
        sample = sample_of(pa.py_buffer(head[:SAMPLE_BYTES]))
        delimiter = sep or detect_delimiter(sample)
        header = header_of(sample, delimiter)
        repeated = sorted({h for h in header if header.count(h) > 1})
        if repeated:
            raise DatasetError(f"the CSV header repeats a column name: {', '.join(repeated)}")
        self.layout = Layout(delimiter, decimal_of(sample, delimiter, decimal), header)
        end = _first_boundary(head)
        if end == 0 and len(head) >= MAX_RECORD:
            raise DatasetError("line 1: the header never ends (an unclosed quote?)")
        self._rest = head[end:] if end else b""
        self._line = 1 + head[:end].count(b"\n") if end else 2

    def _take(self, n: int) -> bytes:
        """Read n bytes, fewer only at the end (a socket may give less per call)."""
        parts, size = [], 0
        while size < n:
            data = self._read(n - size)
            if not data:
                break
            parts.append(data)
            size += len(data)
        self.consumed += size
        return b"".join(parts)

    def __iter__(self) -> Iterator[Piece]:
        buffer, line = self._rest, self._line
        self._rest, ended = b"", False
        while buffer or not ended:
            if not ended and len(buffer) < self.piece_bytes:
                block = self._take(self.piece_bytes)
                buffer, ended = buffer + block, not block
                continue
            cut = self._cut(buffer, ended, line)
            if cut == 0:  # one record longer than a piece: read on
                buffer, ended = buffer + (block := self._take(self.piece_bytes)), not block
                continue
            text, buffer = buffer[:cut], buffer[cut:]
            piece = self._parse(text, line)
            line += text.count(b"\n")
            if piece is not None:
                yield piece

    def _cut(self, buffer: bytes, ended: bool, line: int) -> int:
        """Return where the next piece ends: the last record that fits, else the first."""
        if ended and len(buffer) <= self.piece_bytes:
            return len(buffer)
        cut = _last_boundary(buffer[: self.piece_bytes]) or _first_boundary(buffer)
        if cut == 0 and ended:
            return len(buffer)
        if cut == 0 and len(buffer) > MAX_RECORD:
            limit = MAX_RECORD >> 20
            raise DatasetError(f"line {line}: a record longer than {limit} MB (an unclosed quote?)")
        return cut

    def _parse(self, text: bytes, line: int) -> Piece | None:
        """Parse whole records into text columns; None when they are all blank."""
        layout, odd = self.layout, []
        if not text.strip():
            return None

        def odd_row(row) -> str:
            if row.text.strip(" \t\r\n" + layout.delimiter):
                odd.append(True)
            return "skip"

        names = layout.header
        parse = pacsv.ParseOptions(
            delimiter=layout.delimiter, newlines_in_values=b'"' in text,
            invalid_row_handler=odd_row,
        )  # fmt: skip
        convert = pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False,
            null_values=[], quoted_strings_can_be_null=False,
        )  # fmt: skip
        options = pacsv.ReadOptions(column_names=names, block_size=len(text) + 1)
        try:
            table = pacsv.read_csv(pa.BufferReader(text), options, parse, convert)
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "UTF-8" in str(exc):
                raise DatasetError(
                    f"the CSV is not UTF-8 text from line {line} on: save it as UTF-8"
                ) from None
            raise DatasetError(f"lines {line} on cannot be read: check the quotes") from None
        table = _without_blank_rows(table)
        if table.num_rows == 0 and not odd:
            return None
        cells = {n: c.combine_chunks() for n, c in zip(names, table.columns, strict=True)}
        return Piece(line, text, cells, layout, odd=bool(odd))


def _without_blank_rows(table: pa.Table) -> pa.Table:
    """Leave out rows whose every cell is empty or spaces (;;; lines)."""
    blank = None
    for column in table.columns:
        empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(column)), 0)
        blank = empty if blank is None else pc.and_(blank, empty)
    if blank is None or not pc.any(blank).as_py():
        return table
    return table.filter(pc.invert(blank))


def _boundaries(data: bytes) -> np.ndarray:
    """Return the offsets just past each line break outside quotes."""
    raw = np.frombuffer(data, np.uint8)
    breaks = np.flatnonzero(raw == NEWLINE)
    quotes = np.flatnonzero(raw == QUOTE)
    outside = np.searchsorted(quotes, breaks) % 2 == 0  # an even number of quotes before it
    return breaks[outside] + 1


def _first_boundary(data: bytes) -> int:
    ends = _boundaries(data)
    return int(ends[0]) if ends.size else 0


def _last_boundary(data: bytes) -> int:
    ends = _boundaries(data)
    return int(ends[-1]) if ends.size else 0
