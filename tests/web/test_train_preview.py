"""POST /train/preview (what a job would train on, nothing queued) and GET /train/jobs."""

from __future__ import annotations

import pytest

from service.jobs.queue import JobQueue
from service.web.app import create_app
from tests.support.training import ROWS

CSV = "id,smoking,obesity,exercise,diabetic\n" + "".join(
    f"{i},{r['smoking']},{r['obesity']},{r['exercise']},{r['diabetic']}\n"
    for i, r in enumerate(ROWS * 3)
)


@pytest.fixture
def app(settings_dict):
    return create_app({**settings_dict, "max_train_rows": 50})


@pytest.fixture
def jobs(app) -> JobQueue:
    return JobQueue.from_settings(app.extensions["nns.settings"])


def preview(client, auth, query: str, body: str = CSV, **headers):
    kind = {"Content-Type": "text/csv", **auth, **headers}
    return client.post(f"/train/preview{query}", data=body, headers=kind)


def test_a_csv_without_a_target_answers_its_columns(client, auth, jobs):
    resp = preview(client, auth, "?model=fresh")
    assert resp.status_code == 200, resp.json
    assert resp.json["columns"] == ["id", "smoking", "obesity", "exercise", "diabetic"]
    assert resp.json["target"] is None and resp.json["features"] == []
    semicolons = preview(client, auth, "?model=fresh&sep=semicolon", CSV.replace(",", ";"))
    assert semicolons.json["columns"][:2] == ["id", "smoking"]
    assert jobs.pending() == 0


def test_with_a_target_it_answers_what_training_would_read(client, auth, jobs):
    resp = preview(client, auth, "?model=fresh&target=diabetic&exclude=id")
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert (body["task"], body["classes"], body["rows"]) == ("binary", [0, 1], len(ROWS) * 3)
    assert body["excluded"] == ["id"] and body["read_as"] == {"delimiter": "comma"}
    assert [(f["name"], f["type"], f["description"]) for f in body["features"]] == [
        (name, "binary", "binary: 0, 1") for name in ("smoking", "obesity", "exercise")
    ]
    assert body["current_version"] is None and jobs.pending() == 0
    same = client.post(
        "/train/preview", json={"model": "diabetes", "rows": ROWS, "target": "diabetic"},
        headers=auth,
    )  # fmt: skip
    assert same.status_code == 200 and same.json["current_version"] == 1


def test_it_refuses_what_train_refuses_in_the_same_words(client, auth, jobs):
    for query in ("?model=fresh&target=diabetic", "?model=fresh&target=nope&exclude=id",
                  "?model=fresh&target=diabetic&exclude=id&epochs=0"):  # fmt: skip
        checked = preview(client, auth, query)
        trained = client.post(f"/train{query}", data=CSV,
                              headers={"Content-Type": "text/csv", **auth})  # fmt: skip
        assert checked.status_code == trained.status_code == 422, query
        assert checked.json["details"] == trained.json["details"], query
    assert (
        "looks like row numbers or ids"
        in preview(client, auth, "?model=fresh&target=diabetic").json["error"]
    )
    assert preview(client, auth, "?model=Bad&target=diabetic").status_code == 422
    assert jobs.pending() == 0


def test_the_latest_jobs_newest_first(client, auth):
    ids = [
        client.post("/train", json={"model": f"m{i}", "dataset": "xor"}, headers=auth).json[
            "job_id"
        ]
        for i in range(3)
    ]
    listed = client.get("/train/jobs").json["jobs"]
    assert [j["job_id"] for j in listed] == ids[::-1]
    assert [j["job_id"] for j in client.get("/train/jobs?limit=1").json["jobs"]] == ids[-1:]
    for bad in ("0", "201", "x", "-1"):
        resp = client.get(f"/train/jobs?limit={bad}")
        assert resp.status_code == 422 and resp.json["details"][0]["loc"] == ["query", "limit"]
