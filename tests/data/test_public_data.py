"""Public datasets nobody tuned the reader for, read as a new user's file would be.

Each case failed before the columnar reader: a word among numbers stopped training, row names
and ids outside a dense range were kept as features, ISO dates were refused as identifiers, and
decimal commas turned numbers into text.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest

from service.data import dates
from service.data.columns import feature_specs
from service.data.csvfile import read_csv_text
from service.data.dataset import DatasetError, from_rows, is_numeric
from service.data.features import FeatureSet


def text(public_csv, name: str) -> str:
    return public_csv(name).decode("utf-8")


def test_a_count_with_a_word_among_its_numbers_is_categorical(public_csv):
    names = ("column_1", "Manufacturer", "Model", "Make", "Min.Price", "Max.Price")
    data = read_csv_text(text(public_csv, "cars93"), "Price", exclude=names)
    specs = {s.name: s for s in feature_specs(data)}
    cylinders = specs["Cylinders"]
    assert (cylinders.type, cylinders.values) == ("categorical", [3, 4, 5, 6, 8, "rotary"])
    assert "numbers and words in one column: read as categories" in cylinders.describe()
    X = FeatureSet([cylinders]).encode([data.columns[data.features.index("Cylinders")]])
    assert X.sum(axis=0).tolist() == [3, 49, 2, 31, 7, 1]  # one Mazda RX-7


def test_row_names_under_an_empty_header_are_refused_wherever_they_lie(public_csv):
    data = read_csv_text(text(public_csv, "free1"), "y")  # row names 133 ... 171802, 450 rows
    with pytest.raises(DatasetError) as caught:
        feature_specs(data)
    message = str(caught.value)
    assert "column 'column_1' looks like row numbers or ids (by its name)" in message
    assert "--exclude column_1" in message
    assert [s.name for s in feature_specs(data.without(["column_1"]))][:3] == ["sex", "age", "educ"]


def test_ids_increasing_down_the_file_are_refused_and_counts_are_kept(public_csv):
    data = read_csv_text(text(public_csv, "midwest"), "percollege", exclude=("column_1", "county"))
    with pytest.raises(DatasetError) as caught:
        feature_specs(data)
    assert str(caught.value) == (
        "column 'PID' looks like row numbers or ids (every value a different whole number, "
        "561 to 3052): it cannot help predict; leave it out with --exclude PID"
    )
    # Populations are different whole numbers too, in no order: they stay features.
    specs = {s.name: s for s in feature_specs(data.without(["PID"]))}
    assert specs["poptotal"].type == "numeric" and specs["popwhite"].type == "numeric"


def test_iso_dates_are_a_date_feature_in_training_and_in_requests(public_csv):
    data = read_csv_text(text(public_csv, "nyse"), "log_volume", exclude=("train",))
    specs = feature_specs(data)
    date = specs[0]
    assert (date.name, date.type, date.nullable) == ("date", "date", False)
    assert (dates.text_of(date.min), dates.text_of(date.max)) == ("1962-12-03", "1986-12-31")
    assert date.describe() == (
        "date (ISO-8601 text) from 1962-12-03 to 1986-12-31, read as days since 1970-01-01"
    )
    features = FeatureSet(specs)
    assert features.encode(data.columns)[:2, 0].tolist() == [-2586.0, -2585.0]
    row = {"date": "1987-01-02", "day_of_week": "fri", "DJ_return": 0.01, "log_volatility": -11}
    body = features.request_adapter("Nyse", max_batch=10).validate_python({"instances": [row]})
    assert features.encode_rows(body["instances"])[0][0, 0] == 6210.0
    # The same file as JSON rows: the same date feature.
    rows = [{"date": r[0], "log_volume": float(r[4])} for r in _rows(public_csv)[:50]]
    assert from_rows(rows, "log_volume").columns[0].dtype == np.dtype("datetime64[s]")


def _rows(public_csv) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text(public_csv, "nyse"))))[1:]


def as_european_excel(original: str) -> str:
    """The file as Excel saves it where the decimal mark is a comma: BOM, ;, CRLF, 9,5."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for row in csv.reader(io.StringIO(original)):
        writer.writerow([re.sub(r"^(-?\d+)\.(\d+)$", r"\1,\2", cell) for cell in row])
    return "\ufeff" + out.getvalue()


def test_decimal_commas_are_detected_after_semicolons(public_csv):
    original = text(public_csv, "carseats")
    data = read_csv_text(as_european_excel(original), "Sales")
    assert data.source == {"delimiter": "semicolon", "decimal": "comma"}
    plain = read_csv_text(original, "Sales")
    assert is_numeric(data.y) and np.array_equal(data.y, plain.y)  # 9.5, not the text "9,5"
    assert feature_specs(data) == feature_specs(plain)
    assert data.fingerprint() == plain.fingerprint()
    # Forced: the decimal point reads "9,5" as text, as before.
    forced = read_csv_text(as_european_excel(original), "Sales", decimal=".")
    assert not is_numeric(forced.y) and "decimal" not in forced.source
