"""Scoring whole files: the answers /predict gives, every input cell echoed (formulas
neutralised), problems located by line and column, any length in pieces."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from model_store import ModelStore
from service.errors import InvalidInput
from service.serving.filescore import neutralised, score_file
from service.serving.predictor import Predictor
from service.training.pipeline import run
from service.training.request import TrainRequest

HEADER = "island,sex,mass,smoker,cyl,seen,species"
ISLANDS = ["Biscoe", "Dream", "Torgersen"]


def rows(n: int, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        island = ISLANDS[i % 3]
        sex = ["male", "female", "NA"][int(rng.integers(3))]
        mass = "" if i % 17 == 0 else f"{3000 + 900 * (i % 3) + rng.normal(0, 100):.1f}"
        cyl = "rotary" if i % 20 == 0 else ["4", "6", "8"][i % 3]  # whole numbers and a word
        seen = f"2024-0{1 + i % 9}-{10 + i % 18}"
        out.append([island, sex, mass, ["yes", "no"][i % 2], cyl, seen, f"s{i % 3}"])
    return out


def text(header: str, body: list[list[str]], sep: str = ",") -> str:
    return "\n".join([header.replace(",", sep), *(sep.join(r) for r in body)]) + "\n"


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    store = ModelStore(tmp_path_factory.mktemp("score") / "models")
    data = text(HEADER, rows(120))
    req = TrainRequest(
        model="birds", csv=data, target="species", hyperparameters={"epochs": 30, "hidden": [8]}
    )
    run(req, store)
    return Predictor(store.load("birds", 1), 1000)


def scored(predictor, data: str | bytes, **options) -> bytes:
    out = io.BytesIO()
    raw = data.encode() if isinstance(data, str) else data
    score_file(predictor, io.BytesIO(raw).read, out, **options)
    return out.getvalue()


def json_rows(header: str, body: list[list[str]]) -> list[dict]:
    """The same rows as /predict takes them."""
    names = header.split(",")
    out = []
    for cells in body:
        row = dict(zip(names, cells, strict=True))
        row.pop("species", None)
        row["mass"] = float(row["mass"]) if row["mass"] else None
        row["sex"] = None if row["sex"] == "NA" else row["sex"]
        row["cyl"] = int(row["cyl"]) if row["cyl"].isdigit() else row["cyl"]
        out.append(row)
    return out


def test_the_answers_are_those_of_a_json_batch_and_every_cell_is_echoed(predictor, monkeypatch):
    monkeypatch.setattr("service.data.csvstream.PIECE_BYTES", 256)  # many pieces
    body = rows(300, seed=1)
    out = scored(predictor, text(HEADER, body)).decode()
    table = list(csv.reader(io.StringIO(out)))
    classes = [f"probability_{c}" for c in predictor.classes]
    assert table[0] == [*HEADER.split(","), "label", *classes, "warnings"]
    assert [r[:7] for r in table[1:]] == body
    assert {r[-1] for r in table[1:]} == {""}
    X, *_ = predictor.parse(json.dumps({"instances": json_rows(HEADER, body)}).encode())
    expected = predictor.predictions(X)
    assert [r[7] for r in table[1:]] == [e["label"] for e in expected]
    got = np.array([[float(v) for v in r[8:-1]] for r in table[1:]])
    np.testing.assert_allclose(got, [e["probabilities"] for e in expected], rtol=1e-12)


def test_a_category_never_seen_is_scored_as_predict_scores_it_with_a_warning(predictor):
    body = rows(4, seed=4)
    body[2][0] = "Mars"  # an island never seen in training
    out = scored(predictor, text(HEADER, body)).decode()
    table = list(csv.reader(io.StringIO(out)))
    warning = "island: 'Mars' was not seen in training; scored as an unknown category"
    assert [r[-1].startswith(warning) for r in table[1:]] == [False, False, True, False]
    instances = json.dumps({"instances": json_rows(HEADER, body)}).encode()
    X, _, notes = predictor.parse(instances, strict=False)
    expected = predictor.predictions(X)
    got = [[float(v) for v in r[8:-1]] for r in table[1:]]
    np.testing.assert_allclose(got, [e["probabilities"] for e in expected], rtol=1e-12)
    answer = json.loads(scored(predictor, text(HEADER, body), as_csv=False))
    assert answer["predictions"][2]["warnings"] == notes[2]
    assert "warnings" not in answer["predictions"][1]
    strict = scored(predictor, text(HEADER, body.copy()[:2]), strict=True).decode()
    assert strict.splitlines()[0].endswith("probability_s2")  # no warnings column when strict


def test_json_answers_are_the_batch_predict_shape(predictor):
    body = rows(5, seed=2)
    out = json.loads(scored(predictor, text(HEADER, body), as_csv=False))
    X, *_ = predictor.parse(json.dumps({"instances": json_rows(HEADER, body)}).encode())
    assert out == {"model": "birds", "version": 1, "predictions": predictor.predictions(X)}


def test_a_semicolon_file_with_decimal_commas_is_answered_in_its_own_dialect(predictor):
    body = [[c.replace(".", ",") for c in r] for r in rows(4, seed=3)]
    out = scored(predictor, "\ufeff" + text(HEADER, body, ";").replace("\n", "\r\n"))
    table = list(csv.reader(io.StringIO(out.decode()), delimiter=";"))
    assert [r[:7] for r in table[1:]] == body
    assert all("," in r[8] and "." not in r[8] for r in table[1:])


def test_text_that_a_spreadsheet_would_run_is_neutralised(predictor):
    header = HEADER + ",note,=HYPERLINK()"
    notes = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "-1.5", "+3", "plain", "-"]
    body = [r + [note, "@x"] for r, note in zip(rows(len(notes)), notes, strict=True)]
    table = list(csv.reader(io.StringIO(scored(predictor, text(header, body)).decode())))
    assert table[0][7:9] == ["note", "'=HYPERLINK()"]
    assert [r[7] for r in table[1:]] == [
        "'=1+2", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1)", "'\tx", "-1.5", "+3", "plain", "-",
    ]  # fmt: skip
    assert {r[8] for r in table[1:]} == {"'@x"}
    assert neutralised("\rfoo") == "'\rfoo" and neutralised("1e5") == "1e5"


def test_answer_columns_never_overwrite_input_columns(predictor):
    header = HEADER + ",label"
    body = [r + ["mine"] for r in rows(2)]
    table = list(csv.reader(io.StringIO(scored(predictor, text(header, body)).decode())))
    assert table[0][7:9] == ["label", "label_predicted"]
    assert [r[7] for r in table[1:]] == ["mine", "mine"]


def test_every_problem_is_located_by_line_and_column(predictor):
    body = rows(8)
    body[1][2] = "heavy"  # line 3: a word among numbers
    body[3][0] = "Mars"  # line 5: a category never seen
    body[4][5] = "31/12/2024"  # line 6: not an ISO date
    body[5][3] = ""  # line 7: missing where training had none
    lines = text(HEADER, body).splitlines()
    lines.insert(8, "Dream,male")  # line 9: too few cells
    with pytest.raises(InvalidInput) as caught:
        scored(predictor, "\n".join(lines) + "\n", strict=True)
    found = [d["msg"] for d in caught.value.details]
    assert found == [
        "line 9: expected 7 cells, found 2",
        "line 5, column 'island': accepts only one of 'Biscoe', 'Dream', 'Torgersen'",
        "line 3, column 'mass': not a number",
        "line 7, column 'smoker': accepts only one of 'no', 'yes'",
        "line 6, column 'seen': must be an ISO-8601 date "
        "(YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM)",
    ]
    assert [d["loc"] for d in caught.value.details][:3] == [
        ["body", 9], ["body", 5, "island"], ["body", 3, "mass"],
    ]  # fmt: skip
    assert caught.value.message.startswith("5 problems in the CSV:\n  line 9")
    assert "heavy" not in caught.value.message and "Mars" not in caught.value.message


def test_many_problems_are_counted_and_twenty_listed(predictor, monkeypatch):
    monkeypatch.setattr("service.data.csvstream.PIECE_BYTES", 128)
    body = rows(500)
    for r in body:
        r[2] = "n/a?"
    with pytest.raises(InvalidInput) as caught:
        scored(predictor, text(HEADER, body))
    assert len(caught.value.details) == 20
    assert caught.value.message.endswith("... and 480 more problems")


@pytest.mark.parametrize(
    "data, message",
    [
        ("island,sex\nDream,male\n", "the CSV lacks the model's features ['mass', 'smoker'"),
        (HEADER + "\n\n,,,,,,\n", "the CSV has a header but no data rows"),
        ("", "a header row is required"),
    ],
)
def test_files_that_cannot_be_scored_say_why(predictor, data, message):
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[")):
        scored(predictor, data)


def test_regression_answers_a_prediction_column(tmp_path):
    store = ModelStore(tmp_path / "models")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    body = [[f"{a:.3f}", f"{b:.3f}", f"{3 * a - b:.3f}"] for a, b in x]
    req = TrainRequest(
        model="reg", csv=text("a,b,y", body), target="y", hyperparameters={"epochs": 20}
    )
    run(req, store)
    predictor = Predictor(store.load("reg", 1), 100)
    table = list(
        csv.reader(io.StringIO(scored(predictor, text("a,b", [r[:2] for r in body])).decode()))
    )
    assert table[0] == ["a", "b", "prediction"]
    X = np.array([[float(r[0]), float(r[1])] for r in body])
    expected = [p["prediction"] for p in predictor.predictions(X)]
    np.testing.assert_allclose([float(r[2]) for r in table[1:]], expected, rtol=1e-12)
