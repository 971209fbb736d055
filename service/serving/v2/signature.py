"""How a model's features and labels travel as V2 tensors: datatypes, text forms, label tables.

Worked out once per loaded version from its feature specs and classes (`signature`), so a
request only looks things up.

Inputs. Numeric and 0/1 features take numbers: FP32, FP64, any integer datatype or BOOL (a
nullable one reads NaN in a float tensor as missing). Text features (binary with two words,
categorical) take BYTES, one UTF-8 string per row, equal to one of the values seen in training;
date features take BYTES, ISO-8601 text as in /predict; for a feature that had missing values
in training the empty string is the missing value (unless "" was itself a category). Features
whose values are booleans take BOOL, or BYTES "true" and "false". The single `features` tensor
[N, F] is only for models whose features are all numbers.

Labels. INT64 when every class is an integer, BOOL when every class is a boolean, FP64 when they
are numbers that are not all integers, BYTES otherwise (text; any boolean in it as "true" or
"false", numbers as JSON writes them).
"""

from __future__ import annotations

import struct
import weakref
from dataclasses import dataclass

import numpy as np
import orjson

from ...data.features import FeatureSpec, Label
from ..predictor import Predictor

NUMBERS = ("FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")


def text_of(value: Label) -> str:
    """Return a feature value or label as a BYTES element reads: text as is, true, 1, 0.5."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def frame(text: str) -> bytes:
    """Return one BYTES element as the binary extension sends it: 4-byte LE length, UTF-8."""
    data = text.encode()
    return struct.pack("<I", len(data)) + data


@dataclass(frozen=True)
class FeatureInput:
    """One feature as a V2 input tensor of its own name."""

    spec: FeatureSpec
    datatype: str  # announced in the model metadata: FP64, BYTES or BOOL
    accepted: frozenset[str]  # the datatypes it takes
    text: dict[str, Label | None] | None  # BYTES element -> raw value (None: missing)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def numbers(self) -> bool:
        """Tell whether raw values are numbers that FeatureSet reads straight from a tensor."""
        return self.spec.takes_numbers

    @property
    def one_of(self) -> bool:
        """Tell whether values must be one of those seen in training (binary, categorical)."""
        return not self.numbers and self.spec.type != "date"

    @property
    def empty_is_missing(self) -> bool:
        return self.text is not None and "" in self.text and self.text[""] is None

    def accepts(self) -> str:
        """Say which datatypes this input takes, for error messages."""
        if self.numbers:
            return "a number tensor: FP32, FP64, an integer datatype or BOOL"
        if self.spec.type == "date":
            return "BYTES (ISO-8601 date text)"
        kinds = ["BYTES (UTF-8 text)"]
        if "BOOL" in self.accepted:
            kinds.append("BOOL")
        if "FP64" in self.accepted:
            kinds.append("a number datatype")
        return " or ".join(kinds)

    def allowed(self) -> str:
        """List the values a non-numeric feature accepts, as BYTES elements spell them."""
        values = ", ".join(repr(text_of(v)) for v in self.spec.values or [])
        return values + ("; an empty string is a missing value" if self.empty_is_missing else "")


def feature_input(spec: FeatureSpec) -> FeatureInput:
    """Return how one feature is sent over V2."""
    if spec.takes_numbers:
        return FeatureInput(spec, "FP64", frozenset((*NUMBERS, "BOOL")), None)
    if spec.type == "date":  # the text goes to the feature rule as it is; "" may be missing
        return FeatureInput(
            spec, "BYTES", frozenset({"BYTES"}), {"": None} if spec.nullable else {}
        )
    values = list(spec.values or [])
    # Text first, so that a category "true" wins over the boolean True spelled the same way.
    text: dict[str, Label | None] = {}
    for value in sorted(values, key=lambda v: not isinstance(v, str)):
        text.setdefault(text_of(value), value)
    if spec.nullable:
        text.setdefault("", None)
    accepted = {"BYTES"}
    if any(isinstance(v, bool) for v in values):
        accepted.add("BOOL")
    if any(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        accepted.update(NUMBERS)
    if all(isinstance(v, bool) for v in values):
        datatype = "BOOL"
    elif any(isinstance(v, str | bool) for v in values):
        datatype = "BYTES"
    else:
        datatype = "FP64"
    return FeatureInput(spec, datatype, frozenset(accepted), text)


@dataclass(frozen=True)
class Labels:
    """The `label` output: its datatype and each class's element, by class index."""

    datatype: str
    values: np.ndarray  # class index -> element (int64, bool, float64, or str objects)
    framed: list[bytes] | None  # BYTES: class index -> the element in binary form

    def texts(self) -> list[str]:
        return [text_of(v) for v in self.values.tolist()]


def labels(classes: list[Label]) -> Labels:
    """Return the datatype and elements of the labels of `classes` (in output order)."""
    if classes and all(type(c) is bool for c in classes):
        return Labels("BOOL", np.array(classes, dtype=bool), None)
    if all(type(c) is int for c in classes):
        return Labels("INT64", np.array(classes, dtype="<i8"), None)
    if all(type(c) in (int, float) for c in classes):
        return Labels("FP64", np.array(classes, dtype="<f8"), None)
    texts = [text_of(c) for c in classes]
    values = np.empty(len(texts), dtype=object)
    values[:] = texts
    return Labels("BYTES", values, [frame(t) for t in texts])


@dataclass(frozen=True)
class Signature:
    """Everything V2 needs to know about a model version's inputs and labels."""

    inputs: list[FeatureInput]
    by_name: dict[str, FeatureInput]
    # Every feature is a number (numeric or 0/1, nullable or not): the `features` [N, F]
    # tensor is accepted and announced; otherwise one tensor per feature is the only form.
    matrix: bool
    labels: Labels | None  # None for regression

    @property
    def nullable(self) -> list[str]:
        return [f.name for f in self.inputs if f.spec.nullable]


def _build(predictor: Predictor) -> Signature:
    inputs = [feature_input(spec) for spec in predictor.feature_set.specs]
    return Signature(
        inputs=inputs,
        by_name={f.name: f for f in inputs},
        matrix=all(f.numbers for f in inputs),
        labels=None if predictor.task == "regression" else labels(predictor.classes),
    )


_CACHE: weakref.WeakKeyDictionary[Predictor, Signature] = weakref.WeakKeyDictionary()


def signature(predictor: Predictor) -> Signature:
    """Return the V2 signature of a loaded version, worked out on first use."""
    found = _CACHE.get(predictor)
    if found is None:
        found = _CACHE[predictor] = _build(predictor)
    return found
