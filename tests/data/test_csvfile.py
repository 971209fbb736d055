"""CSV as people save them: delimiters, a BOM, quotes, CRLF, missing markers, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from service.data.csvfile import read_csv_file, read_csv_text
from service.data.dataset import DatasetError


def test_round_trip_and_target_anywhere():
    d = read_csv_text("a,label,b\n1,0,2.5\n3,1,-4\n\n", "label")
    assert d.features == ["a", "b"] and d.y.tolist() == [0, 1]
    assert d.X.tolist() == [[1, 2.5], [3, -4]]


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_the_delimiter_is_detected(sep):
    text = sep.join(["name", "weight", "kind"]) + "\n"
    text += "".join(sep.join([f"n{i}", f"{i}.5", "ab"[i % 2]]) + "\n" for i in range(5))
    d = read_csv_text(text, "kind")
    assert d.features == ["name", "weight"] and d.y.tolist() == list("ababa")


def test_excel_bom_crlf_and_quotes():
    text = '\ufeffcity;"price, eur";y\r\n"Paris; FR";"1,5";a\r\nLyon;2;b\r\n'
    d = read_csv_text(text, "y")
    assert d.features == ["city", "price, eur"]  # no BOM in the first column's name
    assert d.columns[0].tolist() == ["Paris; FR", "Lyon"]
    assert d.source == {"delimiter": "semicolon"}


def test_missing_markers_and_dropped_targets():
    text = "a,b,y\n1,x,yes\nNA,,no\n?,null,\n3,y,N/A\n4,z,yes\n"
    d = read_csv_text(text, "y")
    assert d.rows == 3 and d.dropped == 2
    assert np.isnan(d.columns[0][1]) and d.columns[1].tolist() == ["x", None, "z"]
    custom = read_csv_text("a,y\n1,0\n-999,1\n", "y", na=("-999",))
    assert np.isnan(custom.columns[0][1])


def test_an_unknown_target_lists_the_columns_found():
    with pytest.raises(DatasetError) as caught:
        read_csv_text("a;b;c\n1;2;3\n", "y")
    assert "'a', 'b', 'c'" in str(caught.value) and "semicolon" in str(caught.value)


def test_every_problem_is_reported_with_line_and_column():
    rows = ["1,2,0"] * 30 + ["x,2,0", "1,2", "1,inf,1", "1,2,0,9"]
    with pytest.raises(DatasetError) as caught:
        read_csv_text("a,b,y\n" + "\n".join(rows) + "\n", "y")
    text = str(caught.value)
    assert "4 problems" in text
    for part in [
        "line 32, column 'a': not a number",
        "line 33: expected 3 cells, found 2",
        "line 34, column 'b': infinite value",
        "line 35: expected 3 cells, found 4",
    ]:
        assert part in text
    assert "'x'" not in text  # cell values are not echoed


def test_at_most_twenty_problems_are_listed():
    rows = "".join("1,0\n" for _ in range(200)) + "".join("1,0,0\n" for _ in range(25))
    with pytest.raises(DatasetError) as caught:
        read_csv_text("a,y\n" + rows, "y")
    assert "25 problems" in str(caught.value) and "and 5 more problems" in str(caught.value)


@pytest.mark.parametrize(
    "text,target,message",
    [
        ("", "y", "empty"),
        ("a,y\n", "y", "no data rows"),
        ("a,a,y\n1,2,0\n", "y", "repeats a column"),
        ("y\n1\n", "y", "at least one feature"),
        ("a,y\n1,\n2,NA\n", "y", "every row's target 'y' is missing"),
    ],
)
def test_bad_csv_is_a_clear_error(text, target, message):
    with pytest.raises(DatasetError, match=message):
        read_csv_text(text, target)


def test_exclude_and_row_limit():
    d = read_csv_text("id,a,y\n1,2,0\n2,3,1\n", "y", exclude=("id",))
    assert d.features == ["a"]
    with pytest.raises(DatasetError, match="not in the CSV"):
        read_csv_text("a,y\n1,0\n", "y", exclude=("nope",))
    with pytest.raises(DatasetError, match="more than 10 rows"):
        read_csv_text("a,y\n" + "1,0\n" * 11, "y", max_rows=10)


def test_csv_file_errors(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        read_csv_file(tmp_path / "missing.csv", "y")
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xef\xbb\xbfx,y\r\n1,1\r\n2,0\r\n")
    assert read_csv_file(path, "y").X.tolist() == [[1], [2]]
    (tmp_path / "latin.csv").write_bytes(b"x,y\n\xe9,1\n")
    with pytest.raises(DatasetError, match="not UTF-8"):
        read_csv_file(tmp_path / "latin.csv", "y")


def test_decimal_commas_forced_or_refused(tmp_path):
    text = "a;b;y\n1,5;2;x\n2,25;3;y\n"
    d = read_csv_text(text, "y", decimal=",")
    assert d.X.tolist() == [[1.5, 2], [2.25, 3]] and d.source["decimal"] == "comma"
    with pytest.raises(DatasetError, match="decimal mark"):
        read_csv_text("a,y\n1,0\n", "y", decimal=",")
    path = tmp_path / "d.csv"
    path.write_bytes(text.encode())
    assert read_csv_file(path, "y").X.tolist() == [[1.5, 2], [2.25, 3]]  # detected


def test_iso_dates_and_datetimes_are_dates_in_utc():
    text = "when,y\n2024-03-31,1\n2024-03-31T02:00+02:00,0\n2024-04-01 12:00:00Z,1\nNA,0\n"
    column = read_csv_text(text, "y").columns[0]
    assert column.dtype == np.dtype("datetime64[s]")
    assert [str(v) for v in column[:3]] == [
        "2024-03-31T00:00:00",
        "2024-03-31T00:00:00",
        "2024-04-01T12:00:00",
    ]
    assert np.isnat(column[3])


def test_rows_of_empty_cells_are_blank_lines_not_dropped_rows():
    d = read_csv_text("a;b;y\r\n1;2;x\r\n;;\r\n ; ;\r\n3;4;y\r\n;;\r\n", "y")
    assert d.rows == 2 and d.dropped == 0


def test_a_million_cells_of_five_words_are_codes_not_objects():
    text = "w,y\n" + "".join(f"{'abcde'[i % 5]},{i % 2}\n" for i in range(200_000))
    column = read_csv_text(text, "y").columns[0]
    assert column.codes.dtype == np.int32 and sorted(column.categories) == list("abcde")


def test_types_guessed_from_the_first_rows_give_way_to_the_whole_file():
    rows = [f"{i},{i % 2}" for i in range(20_000)]  # far past the first 64 kB
    rows[15_000] = "7.5,1"  # whole numbers, then a decimal: still numbers
    d = read_csv_text("a,y\n" + "\n".join(rows) + "\n", "y")
    assert d.columns[0][15_000] == 7.5
    rows[18_000] = "seven,0"  # a word deep in a column of numbers: located as before
    with pytest.raises(DatasetError, match="line 18002, column 'a': not a number"):
        read_csv_text("a,y\n" + "\n".join(rows) + "\n", "y")
    rows = [f"2024-01-{1 + i % 28:02d},{i % 2}" for i in range(20_000)]
    rows[19_000] = "2024-01-05T10:00Z,1"  # dates, then a datetime: still dates
    assert read_csv_text("d,y\n" + "\n".join(rows) + "\n", "y").columns[0].dtype.kind == "M"
