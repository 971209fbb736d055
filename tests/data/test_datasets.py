"""Built-in datasets and CSV parsing, with errors that name the line or column."""

from __future__ import annotations

import numpy as np
import pytest

from service.data import datasets
from service.data.datasets import DatasetError


def test_diabetes_is_the_seed_table():
    d = datasets.diabetes()
    assert d.features == ["smoking", "obesity", "exercise"] and d.target == "diabetic"
    assert d.X.tolist()[0] == [0, 1, 0] and d.y.tolist() == [1, 0, 0, 1, 1]


def test_moons_is_seeded_balanced_and_noisy():
    a = datasets.make_moons(101, 0.2, seed=3)
    b = datasets.make_moons(101, 0.2, seed=3)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert a.X.shape == (101, 2) and int(a.y.sum()) in (50, 51)
    assert not np.array_equal(a.X, datasets.make_moons(101, 0.2, seed=4).X)
    clean = datasets.make_moons(100, 0.0, seed=0)
    radius = np.hypot(*clean.X[clean.y == 0].T)
    assert np.allclose(radius, 1.0)


def test_csv_round_trip_and_target_anywhere():
    d = datasets.from_csv_text("a,label,b\n1,0,2.5\n3,1,-4\n\n", "label")
    assert d.features == ["a", "b"] and d.y.tolist() == [0, 1]
    assert d.X.tolist() == [[1, 2.5], [3, -4]]


@pytest.mark.parametrize(
    "text,target,message",
    [
        ("", "y", "empty"),
        ("a,y\n", "y", "no data rows"),
        ("a,b\n1,2\n", "y", "target column 'y'"),
        ("a,y\n1,0\n2\n", "y", "line 3: expected 2 cells, found 1"),
        ("a,y\n1,0\nx,1\n", "y", "line 3, column 'a': not a number"),
        ("a,y\n1,0\nnan,1\n", "y", "line 3, column 'a': NaN or infinite"),
        ("a,y\n1,inf\n", "y", "line 2, column 'y'"),
        ("a,a,y\n1,2,0\n", "y", "repeats a column"),
        ("y\n1\n", "y", "at least one feature"),
    ],
)
def test_bad_csv_is_a_clear_error(text, target, message):
    with pytest.raises(DatasetError, match=message):
        datasets.from_csv_text(text, target)


def test_csv_row_limit():
    text = "a,y\n" + "1,0\n" * 11
    with pytest.raises(DatasetError, match="more than 10 rows"):
        datasets.from_csv_text(text, "y", max_rows=10)


def test_csv_file_errors(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        datasets.from_csv_file(tmp_path / "missing.csv", "y")
    path = tmp_path / "d.csv"
    path.write_text("x,y\n1,1\n2,0\n")
    assert datasets.from_csv_file(path, "y").X.tolist() == [[1], [2]]


def test_rows_must_share_fields():
    rows = [{"a": 1, "y": 0}, {"a": 2, "y": 1}]
    assert datasets.from_rows(rows, "y").features == ["a"]
    with pytest.raises(DatasetError, match="row 1 fields differ"):
        datasets.from_rows([{"a": 1, "y": 0}, {"b": 2, "y": 1}], "y")
    with pytest.raises(DatasetError, match="no target field"):
        datasets.from_rows([{"a": 1}], "y")


def test_unknown_builtin():
    with pytest.raises(DatasetError, match="unknown dataset 'iris'"):
        datasets.builtin("iris")
