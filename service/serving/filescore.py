"""Score a whole CSV with one model version: its rows in, the same rows out with the answers.

POST /models/{name}/predict with a text/csv body and `nns-predict` both call `score_file`.
The file is read in pieces (service/data/csvstream.py), each piece's cells read as the model's
features (service/data/cellvalues.py) and checked and encoded by the one feature rule, and its
answers written out at once, so memory stays bounded whatever the length of the file. Every
problem is located by line and column (up to 20 listed, as training lists them); the caller
sends the output only when there were none, so nothing half-scored leaves.

The CSV answer echoes every input cell as written, in the input's delimiter and decimal mark,
then `label` and `probability_<class>` (classification) or `prediction` (regression), and
`warnings` when a category never seen in training may be scored (unless strict: then it is a
located problem), naming the feature and the value scored at the training average. A text
cell a spreadsheet would run as a formula is neutralised as OWASP's CSV-injection advice says:
a leading ' before a cell starting with = + - @ tab or CR that is not a number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..data.cellvalues import MARKERS, feature_values
from ..data.csvstream import CsvPieces, Piece
from ..data.dataset import MAX_PROBLEMS, DatasetError
from ..data.features import FeatureError, FeatureSet
from ..errors import InvalidInput, problem
from .predictor import NonFiniteOutput, Predictor, Warnings, warnings

FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?\s*")
_STARTS_FORMULA = r"^[=+\-@\t\r]"
TOO_FAR = "no finite prediction: the values are too far outside the training range"


def neutralised(cell: str) -> str:
    """Return a text cell safe to open in a spreadsheet (OWASP CSV injection)."""
    formula = cell.startswith(FORMULA) and not _NUMBER.fullmatch(cell)
    return "'" + cell if formula and cell.strip().lower() not in MARKERS else cell


@dataclass
class Problems:
    """Located problems of a file: the first MAX_PROBLEMS kept, all counted."""

    found: list[dict] = field(default_factory=list)
    count: int = 0

    def add(self, line: int | None, column: str | None, msg: str) -> None:
        self.count += 1
        if len(self.found) < MAX_PROBLEMS:
            where = ", ".join(
                part for part in (line and f"line {line}", column and f"column {column!r}") if part
            )
            loc = ["body", *([line] if line else []), *([column] if column else [])]
            self.found.append(problem(loc, f"{where}: {msg}" if where else msg))

    def add_rows(self, piece: Piece, rows: list[int], column: str | None, msg: str) -> None:
        """Add one problem per row of a piece (lines are looked up for the listed ones only)."""
        for i, row in enumerate(rows):
            if len(self.found) >= MAX_PROBLEMS:
                self.count += len(rows) - i
                return
            self.add(piece.line_of(row), column, msg)

    def error(self) -> InvalidInput:
        shown = [d["msg"] for d in self.found]
        more = self.count - len(shown)
        if self.count == 1:
            message = shown[0]
        else:
            tail = [f"... and {more} more problem{'s' if more > 1 else ''}"] if more else []
            message = f"{self.count} problems in the CSV:\n  " + "\n  ".join(shown + tail)
        return InvalidInput(message, details=self.found)


class _Writer:
    """Write the answers as CSV (the input's dialect) or as the JSON a batch predict returns."""

    def __init__(self, predictor: Predictor, out: BinaryIO, as_csv: bool, strict: bool) -> None:
        self.predictor, self.out, self.as_csv = predictor, out, as_csv
        self.warns = predictor.coded and not strict  # a `warnings` column
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self.rows = 0
        self.writer = None

    def columns(self, header: list[str]) -> list[str]:
        """Return the answer columns' names, kept apart from the input's own."""
        p = self.predictor
        if p.task == "regression":
            names = ["prediction"]
        else:
            names = ["label", *(f"probability_{_text(c)}" for c in p.classes)]
        names += ["warnings"] if self.warns else []
        taken = set(header)
        return [n + "_predicted" if n in taken else n for n in names]

    def start(self, layout) -> None:
        if not self.as_csv:
            head = {"model": self.predictor.name, "version": self.predictor.version}
            self.out.write(orjson.dumps(head)[:-1] + b',"predictions":[')
            return
        self.layout = layout
        self.writer = csv.writer(self.text, delimiter=layout.delimiter, lineterminator="\n")
        names = [neutralised(h) for h in layout.header]
        self.writer.writerow(names + self.columns(layout.header))

    def piece(self, piece: Piece, X: np.ndarray, notes: Warnings) -> None:
        p = self.predictor
        if not self.as_csv:
            answers = p.predictions(X)
            for row, found in notes.items():
                answers[row]["warnings"] = found
            rows = orjson.dumps(answers)[1:-1]
            self.out.write((b"," if self.rows else b"") + rows)
            self.rows += len(X)
            return
        out = p.outputs(X)
        if p.task == "regression":
            answers = [out[:, 0]]
        else:
            _, labels = p.labels(out)
            probs = np.column_stack([1 - out[:, 0], out[:, 0]]) if p.task == "binary" else out
            answers = [[neutralised(_text(v)) for v in labels], *probs.T]
        answers = [a if isinstance(a, list) else _numbers(a, self.layout.decimal) for a in answers]
        if self.warns:
            answers.append([neutralised("; ".join(notes.get(i, []))) for i in range(len(X))])
        echoed = [_echoed(cells) for cells in piece.cells.values()]
        self.writer.writerows(zip(*echoed, *answers, strict=True))
        self.rows += len(X)

    def finish(self) -> None:
        if not self.as_csv:
            self.out.write(b"]}")
        self.text.flush()
        self.text.detach()


def _text(value) -> str:
    """Write a label as text: JSON's spelling for booleans, 1 for the class 1."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _echoed(cells: pa.Array) -> list[str]:
    """Return a column's cells as written, the few that could run as formulas neutralised."""
    texts = cells.to_pylist()
    formula = pc.match_substring_regex(cells, _STARTS_FORMULA)
    number = pc.match_substring_regex(cells, "^" + _NUMBER.pattern + "$")
    suspects = pc.and_not(formula, number).to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(suspects).tolist():
        texts[i] = neutralised(texts[i])
    return texts


def _numbers(values: np.ndarray, decimal: str) -> list[str]:
    """Return numbers as text, shortest form (Arrow's, as Python's repr), in the file's mark."""
    texts = pc.cast(pa.array(values), pa.string())
    if decimal != ".":
        texts = pc.replace_substring(texts, ".", decimal)
    return texts.to_pylist()


Progress = Callable[[int, int], None]  # (bytes read, rows scored)


def score_file(
    predictor: Predictor, read: Callable[[int], bytes], out: BinaryIO, *, as_csv: bool = True,
    sep: str | None = None, decimal: str | None = None, progress: Progress | None = None,
    strict: bool = False,
) -> int:  # fmt: skip
    """Score every row of a CSV read with `read(n)`; write the answers to `out`.

    Returns the number of rows scored. Raises InvalidInput with every problem located (the
    output is then incomplete: the caller throws it away). `strict`: a category never seen in
    training is a problem, not a warning.
    """
    try:
        pieces = CsvPieces(read, sep, decimal)
    except DatasetError as exc:
        raise InvalidInput(str(exc), details=[problem(["body"], str(exc))]) from None
    names = pieces.layout.header
    missing = [f for f in predictor.feature_set.names if f not in names]
    if missing:
        found = ", ".join(repr(n) for n in names)
        msg = f"the CSV lacks the model's features {missing}; its columns: {found}"
        raise InvalidInput(msg, details=[problem(["body", "header"], msg)])
    writer, problems = _Writer(predictor, out, as_csv, strict), Problems()
    writer.start(pieces.layout)
    try:
        for piece in pieces:
            encoded = _encoded(predictor.feature_set, piece, problems, strict)
            if encoded is not None and not problems.count:
                X, unknowns = encoded
                try:
                    writer.piece(piece, predictor.at_average(X, unknowns), warnings(unknowns))
                except NonFiniteOutput as exc:
                    problems.add_rows(piece, exc.rows, None, TOO_FAR)
            if progress is not None:
                progress(pieces.consumed, writer.rows)
    except DatasetError as exc:
        problems.add(None, None, str(exc))
    if problems.count:
        raise problems.error()
    if not writer.rows:
        msg = "the CSV has a header but no data rows"
        raise InvalidInput(msg, details=[problem(["body"], msg)])
    writer.finish()
    return writer.rows


def _encoded(features: FeatureSet, piece: Piece, problems: Problems, strict: bool):
    """Return the piece's input matrix and its unknown values (features.Unknown), or None
    after adding its problems."""
    before = problems.count
    if piece.odd:
        for text in piece.located()[1]:
            line, _, msg = text.partition(": ")
            problems.add(int(line.removeprefix("line ")), None, msg)
    columns, found = [], []  # found: (feature position, rows, message), listed by position
    for j, spec in enumerate(features.specs):
        column, bad = feature_values(spec, piece.cells[spec.name], piece.layout.decimal)
        columns.append(column)
        found += [(j, rows.tolist(), msg) for rows, msg in bad]
    encoded = None
    try:
        encoded = (features.encode(columns), []) if strict else features.encode_lenient(columns)
    except FeatureError as exc:
        found += [(p.column, list(p.rows), p.msg) for p in exc.problems]
    for j, rows, msg in sorted(found, key=lambda f: f[0]):
        problems.add_rows(piece, rows, features.specs[j].name, msg)
    return encoded if problems.count == before else None
