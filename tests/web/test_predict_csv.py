"""CSV bodies on the predict routes: CSV or JSON back as the client accepts, streamed past the
JSON body limit up to its own, problems located, documented."""

from __future__ import annotations

import csv
import io

import pytest

CSV_IN = {"Content-Type": "text/csv"}
CSV_BOTH = {**CSV_IN, "Accept": "text/csv"}
ROWS = "smoking,obesity,exercise\n0,1,0\n1,0,1\n"


@pytest.fixture
def app(settings_dict):
    from service.web.app import create_app

    return create_app({**settings_dict, "max_score_bytes": 200_000})


def test_a_csv_is_answered_as_csv_when_accepted(client):
    resp = client.post("/models/diabetes/predict", data=ROWS, headers=CSV_BOTH)
    assert resp.status_code == 200, resp.json
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="diabetes-v1-scored.csv"'
    table = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert table[0] == ["smoking", "obesity", "exercise", "label", "probability_0", "probability_1"]
    json_answer = client.post("/predict", json={"instances": [
        {"smoking": 0, "obesity": 1, "exercise": 0}, {"smoking": 1, "obesity": 0, "exercise": 1},
    ]}).json["predictions"]  # fmt: skip
    assert [int(r[3]) for r in table[1:]] == [p["label"] for p in json_answer]
    assert [float(r[5]) for r in table[1:]] == [p["probability"] for p in json_answer]
    assert resp.headers["X-Rows"] == "2"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json, text/*"])
def test_a_csv_is_answered_as_json_otherwise(client, accept):
    headers = {**CSV_IN, **({"Accept": accept} if accept else {})}
    resp = client.post("/predict", data=ROWS, headers=headers)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.json["model"] == "diabetes" and len(resp.json["predictions"]) == 2


def test_a_pinned_version_and_a_forced_dialect(client):
    body = ROWS.replace(",", ";")
    resp = client.post("/models/diabetes/versions/1/predict?sep=semicolon", data=body,
                       headers=CSV_BOTH)  # fmt: skip
    assert resp.status_code == 200
    assert resp.get_data(as_text=True).startswith("smoking;obesity;exercise;label;")
    resp = client.post("/predict?sep=comma", data=body, headers=CSV_IN)
    assert resp.status_code == 422 and "lacks the model's features" in resp.json["error"]
    resp = client.post("/predict?decimal=x", data=ROWS, headers=CSV_IN)
    assert resp.status_code == 422 and resp.json["details"][0]["loc"] == ["query", "decimal"]
    one = {"smoking": 0, "obesity": 1, "exercise": 0}  # the query is checked with JSON too
    assert client.post("/predict?sep=AAA", json=one).status_code == 422
    assert client.post("/predict?sep=tab", json=one).status_code == 200


def test_a_csv_larger_than_the_json_limit_streams_up_to_its_own(client, settings_dict):
    rows = ROWS.splitlines()[1:] * 12_000  # about 70 kB: past max_body_bytes (64 kB)
    body = "smoking,obesity,exercise\n" + "\n".join(rows) + "\n"
    assert settings_dict["max_body_bytes"] < len(body) < 200_000
    resp = client.post("/predict", data=body, headers=CSV_BOTH)
    assert resp.status_code == 200 and resp.headers["X-Rows"] == str(len(rows))
    too_big = body * 3
    resp = client.post("/predict", data=too_big, headers=CSV_BOTH)
    assert resp.status_code == 413
    assert resp.json["error"] == ("the CSV body is larger than 200000 bytes (NNS_MAX_SCORE_BYTES)")


def test_bad_rows_are_422_with_line_and_column_and_no_value_echoed(client):
    body = "smoking,obesity,exercise\n0,1,0\n1,secret,1\n"
    resp = client.post("/predict", data=body, headers=CSV_BOTH)
    assert resp.status_code == 422 and resp.mimetype == "application/json"
    assert resp.json["details"] == [{
        "loc": ["body", 3, "obesity"], "msg": "line 3, column 'obesity': not a number",
        "type": "value_error",
    }]  # fmt: skip
    assert "secret" not in resp.get_data(as_text=True)


def test_unknown_models_and_versions_are_404(client):
    assert client.post("/models/nope/predict", data=ROWS, headers=CSV_IN).status_code == 404
    resp = client.post("/models/diabetes/versions/9/predict", data=ROWS, headers=CSV_IN)
    assert resp.status_code == 404


def test_json_predictions_are_unchanged_and_other_types_still_415(client):
    assert (
        client.post("/predict", json={"smoking": 0, "obesity": 1, "exercise": 0}).status_code == 200
    )
    resp = client.post("/predict", data=ROWS, headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415


def test_the_document_describes_csv_bodies_and_answers(client):
    paths = client.get("/openapi.json").json["paths"]
    for path in ("/predict", "/models/{name}/predict", "/models/{name}/versions/{version}/predict"):
        op = paths[path]["post"]
        assert "text/csv" in op["requestBody"]["content"]
        assert "text/csv" in op["responses"]["200"]["content"]
        query = {p["name"] for p in op["parameters"] if p["in"] == "query"}
        assert query == {"sep", "decimal", "strict"}
