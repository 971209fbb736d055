"""Column typing: numeric, binary, categorical, ID-like, from the values."""

from __future__ import annotations

import pytest

from service.data.columns import feature_specs
from service.data.csvfile import read_csv_text
from service.data.dataset import DatasetError


def test_each_kind_is_worked_out_from_the_values():
    rows = [
        "1.5,0,yes,Dream,red,1",
        "2.5,1,no,Biscoe,,0",
        ",1,yes,Dream,blue,1",
        "4.0,0,no,Torgersen,red,0",
    ]
    d = read_csv_text("size,flag,answer,island,colour,y\n" + "\n".join(rows), "y")
    size, flag, answer, island, colour = feature_specs(d)
    assert (size.type, size.nullable, size.impute) == ("numeric", True, 2.5)
    assert (flag.type, flag.values) == ("binary", [0, 1])
    assert (answer.type, answer.values) == ("binary", ["no", "yes"])
    assert (island.type, island.values) == ("categorical", ["Biscoe", "Dream", "Torgersen"])
    assert (colour.type, colour.nullable) == ("categorical", True)  # missing: its own category


def test_identifiers_and_empty_columns_are_refused_with_a_way_out():
    text = "name,empty,a,y\n" + "".join(f"person{i},,{i % 3},{i % 2}\n" for i in range(40))
    with pytest.raises(DatasetError) as caught:
        feature_specs(read_csv_text(text, "y"))
    message = str(caught.value)
    assert "column 'name' looks like an identifier (40 distinct values in 40 rows)" in message
    assert "--exclude name" in message and "column 'empty' has no values" in message
