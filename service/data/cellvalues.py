"""A CSV column's text cells read as the values one feature takes: what scoring a file needs.

Training types a column from its cells (service/data/cells.py). Scoring already knows each
feature from the model's card and reads the cells as that: numbers with the file's decimal
mark, dates as ISO text, categories matched to the values seen in training (the cell "4" is
the category 4, "true" the category True, any other text itself). Missing-value markers are
the training reader's. The one feature rule (FeatureSet.encode) then checks and encodes them;
only what it cannot see in a float column is reported here: a word among numbers, a gap where
training had none. Every decision is made once per distinct cell text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .categorical import MISSING_CODE, Categorical
from .cells import missing_flags, parse_numbers
from .csvfile import MISSING
from .dataset import Column
from .featurespec import FeatureSpec

MARKERS = sorted({m.strip().lower() for m in MISSING})
NOT_A_NUMBER = "not a number"
MISSING_HERE = "is empty, and the model had no missing values here in training"


def feature_values(
    spec: FeatureSpec, cells: pa.Array, decimal: str
) -> tuple[Column, list[tuple[np.ndarray, str]]]:
    """Return one feature's column for FeatureSet.encode, and its problems: (rows, message)."""
    encoded = pc.dictionary_encode(cells)
    text = pc.utf8_trim_whitespace(encoded.dictionary)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    gone = missing_flags(text, MARKERS)
    if spec.takes_numbers:
        return _numbers(spec, text, codes, gone, decimal)
    texts = text.to_pylist()
    dates = spec.type == "date"  # ISO text, which the feature rule reads
    categories = texts if dates else _matched(spec, texts, text, gone, decimal)
    lut = np.where(gone, MISSING_CODE, np.arange(len(texts))).astype(np.int32)
    return Categorical(lut[codes], categories), []


def _numbers(spec: FeatureSpec, text, codes, gone, decimal):
    number, values = parse_numbers(text, decimal, gone)
    problems = []
    words = np.flatnonzero((~gone & ~number)[codes])
    if words.size:
        problems.append((words, NOT_A_NUMBER))
    column = values[codes]
    if not spec.nullable:
        empty = np.flatnonzero(gone[codes])
        if empty.size:
            problems.append((empty, MISSING_HERE))
    if problems:  # reported here: give the feature rule a valid value, not a second message
        column[np.isnan(column)] = spec.impute if spec.impute is not None else spec.min or 0.0
    return column, problems


def _matched(spec: FeatureSpec, texts: list[str], text: pa.Array, gone, decimal) -> list:
    """Return each distinct text as the training value it spells, or as itself."""
    values = spec.values or []
    words = {v: v for v in values if isinstance(v, str)}
    booleans = {str(v).lower(): v for v in values if isinstance(v, bool)}
    numbers = {float(v): v for v in values if type(v) in (int, float)}
    parsed = parse_numbers(text, decimal, gone)[1] if numbers else None
    out = []
    for i, cell in enumerate(texts):
        if cell in words:
            out.append(words[cell])
        elif parsed is not None and parsed[i] in numbers:
            out.append(numbers[parsed[i]])
        elif cell.lower() in booleans:
            out.append(booleans[cell.lower()])
        else:
            out.append(cell)
    return out
