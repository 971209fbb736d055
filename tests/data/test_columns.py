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


@pytest.mark.parametrize("name", ["id", "ID", "Unnamed: 0", "index", "rownames", "column_1"])
def test_row_numbers_and_ids_are_refused_by_their_name(name):
    rows = "".join(f"{i % 7},{i % 3},{i % 2}\n" for i in range(30))  # repeats: not by values
    d = read_csv_text("," + "a,y\n" + rows if name == "column_1" else f"{name},a,y\n" + rows, "y")
    with pytest.raises(DatasetError, match=f"column '{name}' looks like row numbers or ids"):
        feature_specs(d)


def test_a_few_words_among_many_numbers_are_reported_not_categories():
    rows = "".join(f"{i * 1.5},{i % 2}\n" for i in range(40)) + "n/k,1\n"
    with pytest.raises(DatasetError, match="line 42, column 'a': not a number"):
        read_csv_text("a,y\n" + rows, "y")
