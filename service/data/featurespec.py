"""What one input column of a model is: its kind, its values or range, and how null is handled.

A model's features are `FeatureSpec`s, stored with every version (service/data/features.py
applies them). The pydantic type of a feature's JSON value is generated here from the spec.

Kinds: numeric (a finite number, standardised later with the network's scaler), binary (one of
two values, encoded 0 and 1), categorical (one of the categories seen in training, one-hot) and
date (ISO-8601 text, encoded as days since 1970-01-01, then standardised like a number). A
feature that had missing values in training is `nullable`: null is imputed with `impute`
(numeric, date) or encoded as its own category (categorical).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints

from . import dates

Label = str | bool | int | float  # a target value or a binary/categorical feature value
Kind = Literal["numeric", "binary", "categorical", "date"]

# A float equal to 0 or 1: JSON Schema (the OpenAPI document) counts 1.0 as an integer, and a
# strict int would refuse it; as fast as the strict int, and rows become float64 anyway.
ZeroOne = Annotated[float, Strict(), Field(ge=0, le=1, multiple_of=1, allow_inf_nan=False)]
Finite = Annotated[float, Strict(), Field(allow_inf_nan=False)]


def _calendar_date(text: str) -> str:
    if dates.days_of(text) is None:  # the pattern admits 2024-02-30
        raise ValueError("not a date in the calendar")
    return text


IsoDate = Annotated[str, StringConstraints(pattern=dates.PATTERN), AfterValidator(_calendar_date)]


class FeatureSpec(BaseModel):
    """One input column as the model was trained on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: Kind
    min: float | None = Field(
        None, description="Smallest value seen in training (numbers; dates: days since 1970)."
    )
    max: float | None = Field(
        None, description="Largest value seen in training (numbers; dates: days since 1970)."
    )
    values: list[Label] | None = Field(
        None, description="binary: the values encoded 0 and 1; categorical: the categories."
    )
    nullable: bool = Field(False, description="Had missing values in training: null is accepted.")
    impute: float | None = Field(
        None, description="numeric, date: the value used for null (the median)."
    )

    @property
    def zero_one(self) -> bool:
        """Tell whether this is a binary feature whose values are the numbers 0 and 1."""
        values = self.values
        if values is not None and any(isinstance(v, bool) for v in values):
            return False  # [False, True] == [0, 1] in Python; booleans are values, not numbers
        return self.type == "binary" and values in (None, [0, 1], [0.0, 1.0])

    @property
    def takes_numbers(self) -> bool:
        """Tell whether raw values are numbers that encode as themselves (numeric or 0/1)."""
        return self.type == "numeric" or self.zero_one

    @property
    def numeric_input(self) -> bool:
        """Tell whether every raw value is a plain number (no null), so a float column works."""
        return self.takes_numbers and not self.nullable

    @property
    def width(self) -> int:
        """Return the number of input columns this feature takes in the network's matrix."""
        if self.type != "categorical":
            return 1
        return len(self.values or []) + (1 if self.nullable else 0)

    def example(self) -> Label:
        """Return a plausible value: the imputation value, the middle of the range, a value."""
        if self.type not in ("numeric", "date"):
            return (self.values or [0, 1])[-1 if self.zero_one else 0]
        if self.impute is not None:
            middle = self.impute
        else:
            low, high = self.min or 0.0, self.max if self.max is not None else 1.0
            middle = round((low + high) / 2, 6)
        return dates.text_of(round(middle)) if self.type == "date" else middle

    def describe(self) -> str:
        """Return one line for people: the kind, its values or range, and how null is handled."""
        if self.type == "date":
            low, high = dates.text_of(self.min or 0.0), dates.text_of(self.max or 0.0)
            line = f"date (ISO-8601 text) from {low} to {high}, read as days since 1970-01-01"
        elif self.type == "numeric":
            line = f"numeric [{self.min:g}, {self.max:g}]"
        else:
            values = self.values or []
            shown = ", ".join(str(v) for v in values[:8])
            more = f", ... ({len(values)} in all)" if len(values) > 8 else ""
            line = f"{self.type}: {shown}{more}"
            if self.type == "categorical" and _mixed(values):
                line += " (numbers and words in one column: read as categories)"
        if not self.nullable:
            return line
        if self.type == "categorical":
            return line + " + missing as a category"
        shown = dates.text_of(self.impute or 0.0) if self.type == "date" else f"{self.impute:g}"
        return line + f", missing values imputed with {shown}"

    def value_type(self, strict: bool = True) -> Any:
        """Return the pydantic type of this feature's value in a JSON row, undocumented.

        Not `strict`, a binary or categorical feature takes any value of its values' JSON
        types: one never seen in training is scored as unknown (service/data/encoding.py).
        """
        if self.zero_one:
            kind: Any = ZeroOne
        elif self.type == "numeric":
            kind = Finite
        elif self.type == "date":
            kind = IsoDate
        elif strict:
            kind = Literal[tuple(self.values or [])]
        else:
            kinds = {JSON_KIND[_kind_of(v)] for v in self.values or [""]}
            kind = Union[tuple(sorted(kinds, key=str))]  # noqa: UP007 - a runtime union of types
        return kind | None if self.nullable else kind

    def json_type(self, strict: bool = True) -> Any:
        """Return the pydantic type of this feature's value in a JSON row, with its description."""
        if self.zero_one:
            text = f"binary feature, trained on [{self.min or 0:g}, {self.max or 1:g}]"
        elif self.type == "numeric":
            text = f"numeric feature, trained on [{self.min:g}, {self.max:g}]"
        elif self.type == "date":
            low, high = dates.text_of(self.min or 0.0), dates.text_of(self.max or 0.0)
            text = f"date feature ({dates.FORMAT}), trained on {low} to {high}"
        else:
            text = f"{self.type} feature: one of {listing(self.values or [])}"
            if not strict:
                text += " (another value is scored as unknown, with a warning)"
        if self.nullable:
            text += "; null is accepted"
        examples = {} if strict or self.type not in CODED else {"examples": list(self.values or [])}
        return Annotated[self.value_type(strict), Field(description=text, **examples)]


CODED = ("binary", "categorical")  # kinds whose values are a list seen in training
StrictText = Annotated[str, Strict()]
StrictFlag = Annotated[bool, Strict()]
JSON_KIND = {"text": StrictText, "flag": StrictFlag, "number": Finite}


def _kind_of(value: Label) -> str:
    if isinstance(value, bool):
        return "flag"
    return "text" if isinstance(value, str) else "number"


def _mixed(values: Sequence[Label]) -> bool:
    kinds = {isinstance(v, str) for v in values if not isinstance(v, bool)}
    return kinds == {True, False}


def listing(values: Sequence[Label]) -> str:
    return ", ".join(repr(v) for v in values)
