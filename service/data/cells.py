"""What a column of CSV text cells holds: numbers, dates, categories, or numbers with mistakes.

The CSV parser hands over a column it could not read as numbers or dates as its distinct cell
texts and one code per row; every decision here is made on the distinct texts (vectorised by
Arrow), so a million rows of five words cost five lookups. Cells are compared with their
surrounding spaces stripped; a missing-value marker matches in any letter case.

- every present cell a number: numbers;
- every present cell an ISO-8601 date or datetime: dates;
- numbers with a few words (at most 10% of the cells): when the numbers are a handful of whole
  values (a cylinder count of 3, 4, 6, 8 and "rotary"), the column is categorical, each
  number and each word a category; otherwise the words are reported by line, as mistakes in
  a column of numbers (or missing-value markers to add with --na);
- anything else: text, as categories.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import dates
from .categorical import MISSING_CODE, Categorical, order
from .dataset import Column

MOSTLY_NUMBERS = 0.9  # a column with this share of numbers is numbers; the rest are words
MAX_MIXED = 20  # whole numbers and words read as categories: at most this many in all
_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
_INFINITE = r"^[+-]?inf(?:inity)?$"


@dataclass
class Typed:
    """A column read from cells, with the rows that hold mistakes (indices into the column)."""

    column: Column
    words: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # not numbers
    infinite: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


def numbers(values: np.ndarray) -> Typed:
    """Return a float64 column with its infinite cells flagged."""
    return Typed(values, infinite=np.flatnonzero(np.isinf(values)))


def type_cells(texts: pa.Array, codes: np.ndarray, markers: list[str], decimal: str) -> Typed:
    """Type one column: texts, its distinct cells; codes (rows,) into texts, -1 where missing."""
    text = pc.utf8_trim_whitespace(texts.cast(pa.string()))
    gone = missing_flags(text, markers)
    counts = np.bincount(codes[codes >= 0], minlength=len(texts))
    gone |= counts == 0  # a value only on rows left out (no target) is not in the column
    number, values = parse_numbers(text, decimal, gone)
    word = ~gone & ~number
    present, words = int(counts[~gone].sum()), int(counts[word].sum())
    if present and words == 0:
        return numbers(_take(values, codes, np.nan))
    if present and words <= (1 - MOSTLY_NUMBERS) * present:
        if _few_whole_numbers(values[number], int(word.sum())):
            return Typed(_categories(values, text, number, word, codes))
        rows = np.flatnonzero(_take(word, codes, False))
        return Typed(_take(values, codes, np.nan), words=rows)
    moments = dates.parse(text.filter(pa.array(~gone)).to_pylist()) if _dates(text, gone) else None
    if moments is not None:
        table = np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[s]")
        table[~gone] = moments
        return Typed(_take(table, codes, np.datetime64("NaT")))
    return Typed(_text(text, gone, codes))


def missing_flags(text: pa.Array, markers: list[str]) -> np.ndarray:
    """Return which stripped texts are missing-value markers (markers: lower case)."""
    return _flags(pc.is_in(pc.utf8_lower(text), value_set=pa.array(markers, pa.string())))


def parse_numbers(text: pa.Array, decimal: str, gone: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (which stripped texts are numbers, their float64 values, NaN elsewhere); texts
    flagged `gone` (missing) are not numbers. `decimal` is the file's decimal mark."""
    number = _flags(pc.match_substring_regex(text, _NUMBER.replace(r"\.", re.escape(decimal))))
    number |= _flags(pc.match_substring_regex(text, _INFINITE, ignore_case=True))
    number &= ~gone
    values = np.full(len(text), np.nan)
    if number.any():
        digits = text.filter(pa.array(number))
        if decimal != ".":
            digits = pc.replace_substring(digits, decimal, ".")
        values[number] = pc.cast(digits, pa.float64()).to_numpy(zero_copy_only=False)
    return number, values


def _flags(array) -> np.ndarray:
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _take(table: np.ndarray, codes: np.ndarray, fill) -> np.ndarray:
    """Return table[codes] with `fill` where a code is -1 (missing)."""
    return np.append(table, np.array([fill], dtype=table.dtype))[codes]


def _few_whole_numbers(values: np.ndarray, words: int) -> bool:
    distinct = np.unique(values)
    whole = bool(np.all(np.isfinite(distinct) & (distinct == np.round(distinct))))
    return whole and distinct.size >= 2 and distinct.size + words <= MAX_MIXED


def _categories(values, text: pa.Array, number, word, codes) -> Categorical:
    """Return whole numbers and words as categories (numbers as ints, words as text)."""
    labels = {int(v) for v in values[number]} | set(text.filter(pa.array(word)).to_pylist())
    categories = sorted(labels, key=order)
    index = {(type(c), c): i for i, c in enumerate(categories)}
    lut = np.full(len(text), MISSING_CODE, dtype=np.int32)
    for i in np.flatnonzero(number):
        lut[i] = index[(int, int(values[i]))]
    for i, w in zip(np.flatnonzero(word), text.filter(pa.array(word)).to_pylist(), strict=True):
        lut[i] = index[(str, w)]
    return Categorical(_take(lut, codes, MISSING_CODE), categories)


def _dates(text: pa.Array, gone: np.ndarray) -> bool:
    """Tell whether every present value is written as an ISO date (its calendar is checked
    after, on the values)."""
    iso = _flags(pc.match_substring_regex(text, dates.PATTERN))
    return bool(iso[~gone].all()) and not gone.all()


def _text(text: pa.Array, gone: np.ndarray, codes: np.ndarray) -> Categorical:
    """Return the stripped texts as categories; values equal once stripped are one category."""
    encoded = pc.dictionary_encode(text.filter(pa.array(~gone)))
    lut = np.full(len(text), MISSING_CODE, dtype=np.int32)
    lut[~gone] = encoded.indices.to_numpy(zero_copy_only=False)
    return Categorical(_take(lut, codes, MISSING_CODE), encoded.dictionary.to_pylist())
