"""The streaming reader: whole records per piece, lines kept, dialects as training reads them."""

from __future__ import annotations

import io

import pytest

from service.data.csvstream import CsvPieces
from service.data.dataset import DatasetError


def pieces(data: bytes, size: int = 64, **options):
    reader = CsvPieces(io.BytesIO(data).read, piece_bytes=size, **options)
    return reader, list(reader)


def rows(found) -> list[tuple]:
    out = []
    for piece in found:
        columns = [c.to_pylist() for c in piece.cells.values()]
        out += list(zip(*columns, strict=True))
    return out


def test_small_pieces_cut_only_between_records_and_keep_every_row():
    body = "".join(f'{i},"note {i}\nsecond line, quoted",{i * 2}\n' for i in range(50))
    reader, found = pieces(("a,b,c\n" + body).encode(), size=40)
    assert len(found) > 10
    got = rows(found)
    assert len(got) == 50
    assert got[7] == ("7", "note 7\nsecond line, quoted", "14")
    assert reader.consumed == len(("a,b,c\n" + body).encode())


def test_each_row_knows_its_line_across_pieces_blank_lines_and_quoted_breaks():
    lines = ["x,y", "1,a", "", '2,"b', 'b"', ",", "3,c", "  ", "4,d"]
    _, found = pieces(("\n".join(lines) + "\n").encode(), size=8)
    located = [(piece.line_of(i), row) for piece in found for i, row in enumerate(rows([piece]))]
    # A record over two lines is located where it ends, as training locates it.
    assert located == [(2, ("1", "a")), (5, ("2", "b\nb")), (7, ("3", "c")), (9, ("4", "d"))]


def test_the_dialect_is_detected_as_training_detects_it():
    data = "\ufeffname;weight\r\nA;1,5\r\nB;2,25\r\n".encode()
    reader, found = pieces(data)
    assert (reader.layout.delimiter, reader.layout.decimal) == (";", ",")
    assert reader.layout.header == ["name", "weight"]
    assert rows(found) == [("A", "1,5"), ("B", "2,25")]


def test_forced_dialect_and_unnamed_columns():
    reader, found = pieces(b"a|b|\n1|2|3\n", sep="|", decimal=",")
    assert reader.layout.header == ["a", "b", "column_3"]
    assert rows(found) == [("1", "2", "3")]


def test_rows_of_the_wrong_width_are_flagged_and_located():
    _, found = pieces(b"a,b\n1,2\n3\n4,5,6\n7,8\n", size=1024)
    assert [p.odd for p in found] == [True]
    lines, problems = found[0].located()
    assert lines == [2, 5]
    assert problems == ["line 3: expected 2 cells, found 1", "line 4: expected 2 cells, found 3"]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "a header row is required"),
        (b"a,a\n1,2\n", "repeats a column name: a"),
        (b"a,b\n1,2\n\xff,3\n", "not UTF-8"),
        (b"\xff\xfea,b\n", "not UTF-8"),
        ("ÇÛ\r[z,b\n1,2\n".encode(), "header row cannot be read"),  # found by the fuzzer
    ],
)
def test_unreadable_files_say_why(data, message):
    with pytest.raises(DatasetError, match=message):
        pieces(data)


def test_an_unclosed_quote_is_refused_with_its_line(monkeypatch):
    monkeypatch.setattr("service.data.csvstream.MAX_RECORD", 256)
    with pytest.raises(DatasetError, match="line 3: a record longer than"):
        pieces(b'a,b\n1,2\n3,"never closed\n' + b"x,y\n" * 200, size=32)
