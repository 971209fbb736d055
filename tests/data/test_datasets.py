"""Built-in datasets, and JSON rows as a dataset."""

from __future__ import annotations

import numpy as np
import pytest

from service.data import datasets
from service.data.dataset import Dataset, DatasetError, from_rows


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


def test_rows_must_share_fields():
    rows = [{"a": 1, "y": 0}, {"a": 2, "y": 1}]
    assert from_rows(rows, "y").features == ["a"]
    with pytest.raises(DatasetError, match="row 1 fields differ"):
        from_rows([{"a": 1, "y": 0}, {"b": 2, "y": 1}], "y")
    with pytest.raises(DatasetError, match="no target field"):
        from_rows([{"a": 1}], "y")


def test_rows_keep_text_booleans_and_missing_values():
    rows = [
        {"size": 1.5, "colour": "red", "ok": True, "label": "yes"},
        {"size": None, "colour": None, "ok": False, "label": "no"},
        {"size": 2, "colour": "blue", "ok": True, "label": None},
    ]
    d = from_rows(rows, "label")
    assert d.dropped == 1 and d.rows == 2  # the row without a label is left out
    size, colour, ok = d.columns
    assert size.dtype == np.float64 and np.isnan(size[1])
    assert colour.tolist() == ["red", None] and ok.tolist() == [True, False]
    assert d.y.tolist() == ["yes", "no"]
    with pytest.raises(DatasetError, match="mixes numbers and text"):
        from_rows([{"a": 1, "y": 0}, {"a": "x", "y": 1}], "y")


def test_a_dataset_travels_as_bytes_without_pickle():
    rows = [{"a": 1.5, "t": "x", "y": "p"}, {"a": None, "t": None, "y": "q"}]
    d = from_rows(rows, "y")
    back = Dataset.from_bytes(d.to_bytes())
    assert back.features == d.features and back.target == d.target
    assert np.array_equal(back.columns[0], d.columns[0], equal_nan=True)
    assert back.columns[1].tolist() == ["x", None] and back.y.tolist() == ["p", "q"]


def test_unknown_builtin():
    with pytest.raises(DatasetError, match="unknown dataset 'iris'"):
        datasets.builtin("iris")


def test_the_fingerprint_is_the_same_from_a_csv_or_json_rows():
    from service.data.csvfile import read_csv_text

    rows = [
        {"a": 1.5, "t": "x", "d": "2024-01-02", "y": "p"},
        {"a": None, "t": None, "d": "2024-01-03", "y": "q"},
        {"a": 2.0, "t": "z", "d": "2024-01-04", "y": "p"},
    ]
    json_data = from_rows(rows, "y")
    csv_data = read_csv_text("a,t,d,y\n1.5,x,2024-01-02,p\n,,2024-01-03,q\n2,z,2024-01-04,p\n", "y")
    assert json_data.fingerprint() == csv_data.fingerprint()
    assert json_data.fingerprint()["rows"] == 3
    assert json_data.without(["t"]).fingerprint() != json_data.fingerprint()
    back = Dataset.from_bytes(csv_data.to_bytes())
    assert back.fingerprint() == csv_data.fingerprint()
    assert back.columns[2].dtype == np.dtype("datetime64[s]")
