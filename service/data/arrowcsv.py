"""Arrow's CSV reader, set up as the product reads a CSV: typed columns from the file's bytes.

The first rows decide each column's type (Arrow infers them on a sample); the whole file is
then read with those types, which is about twice as fast as inferring every block. If a later
cell does not fit its column's type (a word deep in a column of numbers), the file is read
again with types inferred throughout. Each column comes out as NumPy: numbers as float64,
dates as datetime64, text as distinct values and codes that `cells` types.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .cells import Typed, numbers, type_cells

SAMPLE_BYTES = 1 << 16
TEXT = pa.dictionary(pa.int32(), pa.string())


def parse(buffer, header, keep, delimiter, point, na) -> tuple[dict, bool]:
    """Parse with Arrow; return {name: column} and whether a row had the wrong number of cells."""
    flagged = []

    def odd_row(row) -> str:
        if row.text.strip(" \t\r\n" + delimiter):
            flagged.append(True)  # located by the slower pass; blank lines are just skipped
        return "skip"

    # Markers match in any letter case (NA, na, Na); `cells` checks the rest once per value.
    nulls = sorted({v for m in na for v in (m, m.strip(), m.lower(), m.upper(), m.title())})
    convert = pacsv.ConvertOptions(
        include_columns=keep,
        null_values=nulls,
        strings_can_be_null=True,
        true_values=[],  # true/false stay text: a binary feature of two words
        false_values=[],
        decimal_point=point,
        auto_dict_encode=True,
        auto_dict_max_cardinality=2**31 - 1,
    )

    def read(data: pa.Buffer, newlines: bool, types: dict) -> pa.Table:
        flagged.clear()
        parse_options = pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=newlines, invalid_row_handler=odd_row
        )
        read_options = pacsv.ReadOptions(column_names=header, skip_rows=1)
        convert.column_types = types
        return pacsv.read_csv(pa.BufferReader(data), read_options, parse_options, convert)

    types = {}
    if buffer.size > SAMPLE_BYTES:  # a small file is read once, inferring as it goes
        # A sample that is no CSV on its own (a quoted line break cut in two) guesses nothing.
        with contextlib.suppress(pa.ArrowInvalid):
            types = _types(read(_head(buffer), False, {}).schema)
    try:
        # Arrow parses quoted line breaks either way; saying they may occur costs 40% of the
        # speed, and is only needed when its block splitting fails on one.
        table = read(buffer, False, types)
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc):
            raise
        table = read(buffer, True, {})
    return dict(zip(keep, table.columns, strict=True)), bool(flagged)


def typed(arrays: dict, markers: list[str], point: str) -> dict:
    """Return each column typed, releasing Arrow's copy of a column once converted (arrays is
    emptied: at most one column is held twice)."""
    return {name: _typed(arrays.pop(name), markers, point) for name in list(arrays)}


def _typed(column: pa.ChunkedArray, markers: list[str], point: str) -> Typed:
    kind = column.type
    if pa.types.is_null(kind):
        return Typed(np.full(len(column), np.nan))
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return numbers(column.cast(pa.float64()).to_numpy())
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        zone = getattr(kind, "tz", None)
        return Typed(column.cast(pa.timestamp("s", tz=zone)).to_numpy().astype("datetime64[s]"))
    if not pa.types.is_dictionary(kind):
        column = column.cast(pa.string()).dictionary_encode()
    column = column.unify_dictionaries()
    if column.num_chunks == 0:
        return Typed(np.full(0, np.nan))
    codes = np.concatenate(
        [c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in column.chunks]
    ).astype(np.int32)
    return type_cells(column.chunk(0).dictionary, codes, markers, point)


def _head(buffer: pa.Buffer) -> pa.Buffer:
    """Return the first whole lines of the file, about SAMPLE_BYTES of them."""
    head = buffer.slice(0, SAMPLE_BYTES).to_pybytes()
    return buffer.slice(0, head.rfind(b"\n") + 1)


def _types(schema: pa.Schema) -> dict:
    """Return the column types to read the whole file with, from the sample's: numbers as
    float64 (whole numbers first, decimals later), text as dictionary codes, dates as dates."""
    types = {}
    for field in schema:
        kind = field.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            types[field.name] = pa.float64()
        elif pa.types.is_dictionary(kind) or pa.types.is_string(kind):
            types[field.name] = TEXT
        elif pa.types.is_date(kind) or pa.types.is_timestamp(kind):
            types[field.name] = kind
    return types
