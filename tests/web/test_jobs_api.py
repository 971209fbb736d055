"""POST /train, GET and DELETE /train/jobs/{id}, and PUT /models/{name}/current, in process.

The queue is the real SQLite file the app opens from its settings; `run_next` does what the
trainer process does, through a second opener of the same file.
"""

from __future__ import annotations

import re
import uuid

import pytest
from huey import RedisHuey
from openapi_spec_validator import validate

from service.jobs.queue import JobQueue
from service.jobs.trainer import Trainer
from service.web.app import create_app
from tests.support.api import TOKEN
from tests.support.harness import free_port, wait_until
from tests.support.training import ROWS, promote_rotten, train

LIMITS = {"max_train_rows": 20, "max_epochs": 5000, "max_layers": 2, "max_layer_width": 16}


@pytest.fixture
def app(settings_dict):
    return create_app({**settings_dict, **LIMITS, "job_timeout": 60})


@pytest.fixture
def jobs(app) -> JobQueue:
    """The trainer's side of the queue the app uses."""
    return JobQueue.from_settings(app.extensions["nns.settings"])


def load_failures(client) -> float:
    text = client.get("/metrics").text
    found = re.search(r'nns_model_load_failures_total\{model="diabetes"\} ([0-9.]+)', text)
    return float(found.group(1)) if found else 0.0


def run_next(jobs: JobQueue) -> None:
    Trainer(jobs).run_job(jobs.take())


def served_version(client) -> int:
    return client.post("/predict", json={"smoking": 0, "obesity": 1, "exercise": 0}).json["version"]


def submit(client, auth, body, **kw):
    return client.post("/train", json=body, headers=auth, **kw)


def diabetes_job(**params) -> dict:
    return {"model": "diabetes", "rows": ROWS, "target": "diabetic", "hyperparameters": params}


def test_submit_answers_202_with_location_and_the_job_is_queued(client, auth, jobs):
    resp = submit(client, auth, diabetes_job(epochs=300))
    assert resp.status_code == 202
    job_id = resp.json["job_id"]
    assert resp.json == {"job_id": job_id, "status": "queued"}
    assert resp.headers["Location"] == f"/train/jobs/{job_id}"
    assert jobs.pending() == 1
    job = client.get(resp.headers["Location"]).json
    assert job["status"] == "queued" and job["progress"] == {
        "epoch": 0,
        "epochs": 300,
        "loss": None,
        "trail": [],
    }
    assert job["result"] is None and job["error"] is None and job["started_at"] is None


def test_job_runs_publishes_and_the_new_version_is_served(client, auth, jobs, store):
    # Eight rows are too few to hold any out: only "always" replaces a version on them.
    body = {**diabetes_job(epochs=300), "promote": "always"}
    location = submit(client, auth, body).headers["Location"]
    run_next(jobs)
    job = client.get(location).json
    assert job["status"] == "succeeded", job
    assert job["result"]["model"] == "diabetes" and job["result"]["version"] == 2
    assert job["result"]["promoted"] is True and job["result"]["metrics"]["rows"] == len(ROWS)
    assert job["progress"]["epoch"] == 300 and job["finished_at"] >= job["started_at"]
    assert job["attempts"] == 1 and job["requeues"] == 0 and job["cancel_requested"] is False
    assert store.current_version("diabetes") == 2
    # Served within the reload interval (0.05 s here), however long training took.
    wait_until(lambda: served_version(client) == 2, 5, what="version 2 to be served")


def test_promote_false_publishes_without_serving(client, auth, jobs, store):
    location = submit(client, auth, {**diabetes_job(epochs=50), "promote": False}).headers[
        "Location"
    ]
    run_next(jobs)
    assert client.get(location).json["result"]["promoted"] is False
    assert store.versions("diabetes") == [1, 2] and store.current_version("diabetes") == 1


def test_a_new_model_is_created_from_csv_with_query_hyperparameters(client, auth, jobs):
    csv = "a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n"
    resp = client.post(
        "/train?model=xor-csv&target=y&epochs=40&hidden=3,3&activation=tanh&promote=true",
        data=csv,
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert resp.status_code == 202, resp.json
    run_next(jobs)
    assert client.get(resp.headers["Location"]).json["status"] == "succeeded"
    served = lambda: client.get("/models/xor-csv").status_code == 200  # noqa: E731
    wait_until(served, 5, what="the watcher to load the new model")
    card = client.get("/models/xor-csv").json
    assert [f["name"] for f in card["features"]] == ["a", "b"] and card["target"] == "y"
    params = card["training"]["hyperparameters"]
    assert params["hidden"] == [3, 3] and params["activation"] == "tanh" and params["epochs"] == 40


def test_builtin_dataset(client, auth, jobs):
    body = {"model": "moons2", "dataset": "moons", "samples": 20, "noise": 0.1}
    resp = submit(client, auth, {**body, "hyperparameters": {"hidden": [8], "epochs": 20}})
    run_next(jobs)
    job = client.get(resp.headers["Location"]).json
    assert job["status"] == "succeeded" and job["result"]["metrics"]["rows"] == 20


def test_a_job_that_fails_in_training_reports_why(client, auth, jobs, store):
    rows = [{"x": 0, "y": 0}, {"x": 1, "y": 1}]
    body = {"model": "tiny", "rows": rows, "target": "y"}
    resp = submit(client, auth, {**body, "hyperparameters": {"validation_split": 0.9}})
    assert resp.status_code == 202
    run_next(jobs)
    job = client.get(resp.headers["Location"]).json
    assert job["status"] == "failed" and job["result"] is None
    assert job["error"] == "validation split 0.9 leaves no training rows out of 2"
    assert "tiny" not in store.list_models()


def test_token_is_required(client, auth, jobs, settings_dict):
    assert submit(client, {}, diabetes_job()).status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * len(TOKEN)}
    resp = submit(client, wrong, diabetes_job())
    assert resp.status_code == 401 and resp.json["code"] == "unauthorized"
    off = create_app({**settings_dict, "admin_token": None}).test_client()
    resp = submit(off, auth, diabetes_job())
    assert resp.status_code == 503 and "NNS_ADMIN_TOKEN" in resp.json["error"]
    assert jobs.pending() == 0 and jobs.counts()["queued"] == 0


BAD_BODIES = [
    (b"{not json", 400, []),
    (b'{"model": "diabetes", "dataset": "xor", "extra": 1}', 422, ["extra"]),
    (b'{"model": "Bad Name", "dataset": "xor"}', 422, ["model"]),
    (b'{"model": "diabetes"}', 422, []),
    (b'{"model": "m", "dataset": "xor", "rows": [{"a": 1}], "target": "a"}', 422, []),
    (b'{"model": "m", "rows": [{"a": 1, "y": 0}]}', 422, []),
    (b'{"model": "m", "dataset": "xor", "samples": 10}', 422, []),
    (b'{"model": "m", "rows": [{"a": NaN, "y": 0}, {"a": 1, "y": 1}], "target": "y"}', 422, None),
    (b'{"model": "m", "rows": [{"a": "1", "y": 0}, {"a": 1, "y": 1}], "target": "y"}', 422, None),
    (b'{"model": "m", "rows": [{"a": 0, "y": 0}, {"a": 1}], "target": "y"}', 422, ["rows"]),
    (b'{"model": "m", "rows": [{"a": 0, "y": 1}, {"a": 1, "y": 1}], "target": "y"}', 422, ["rows"]),
    (
        b'{"model": "m", "rows": [{"a": 0, "y": "x"}, {"a": 1, "y": 1}], "target": "y"}',
        422,
        ["rows"],
    ),
    (b'{"model": "m", "dataset": "xor", "hyperparameters": {"depth": 3}}', 422, None),
    (b'{"model": "m", "dataset": "xor", "hyperparameters": {"epochs": 0}}', 422, None),
    (b'{"model": "m", "dataset": "xor", "promote": "yes"}', 422, ["promote"]),
]


@pytest.mark.parametrize("body,status,loc", BAD_BODIES)
def test_invalid_bodies_are_refused_and_nothing_is_queued(client, auth, jobs, body, status, loc):
    resp = client.post("/train", data=body, headers={**auth, "Content-Type": "application/json"})
    assert resp.status_code == status, resp.json
    assert resp.json["code"] in ("bad_request", "validation_error") and resp.json["error"]
    if loc is not None:
        assert resp.json["details"][0]["loc"][: len(loc)] == loc
    assert jobs.pending() == 0 and jobs.counts()["queued"] == 0


def test_features_of_an_existing_model_must_match(client, auth, jobs):
    rows = [{"smoking": 0, "obese": 1, "diabetic": 1}, {"smoking": 1, "obese": 0, "diabetic": 0}]
    resp = submit(client, auth, {"model": "diabetes", "rows": rows, "target": "diabetic"})
    assert resp.status_code == 422
    error = resp.json["error"]
    assert "features do not match model 'diabetes'" in error
    assert "missing ['obesity', 'exercise']" in error and "unexpected ['obese']" in error
    reordered = [{"obesity": r["obesity"], **r} for r in ROWS]
    resp = submit(client, auth, {"model": "diabetes", "rows": reordered, "target": "diabetic"})
    assert resp.status_code == 422 and "order differs" in resp.json["error"]
    assert jobs.pending() == 0


def test_other_content_types_are_415(client, auth, jobs):
    resp = client.post("/train", data="x", headers={**auth, "Content-Type": "text/plain"})
    assert resp.status_code == 415 and jobs.pending() == 0


LIMIT_CASES = [
    (diabetes_job() | {"rows": ROWS * 3}, ["rows"], "at most 20 rows"),
    (diabetes_job(epochs=5001), ["hyperparameters", "epochs"], "at most 5000 epochs"),
    (diabetes_job(hidden=[4, 4, 4]), ["hyperparameters", "hidden"], "at most 2 hidden layers"),
    (diabetes_job(hidden=[4, 17]), ["hyperparameters", "hidden", 1], "at most 16 wide"),
    (diabetes_job() | {"timeout": 61}, ["timeout"], "at most 60 s"),
    ({"model": "m", "dataset": "moons", "samples": 21}, ["samples"], "at most 20 rows"),
    ({"model": "m", "dataset": "moons"}, ["samples"], "at most 20 rows"),
]


@pytest.mark.parametrize("body,loc,msg", LIMIT_CASES)
def test_sizes_over_the_limits_are_422_and_nothing_is_queued(client, auth, jobs, body, loc, msg):
    resp = submit(client, auth, body)
    assert resp.status_code == 422
    assert resp.json["details"][0]["loc"] == loc and msg in resp.json["error"]
    assert jobs.pending() == 0 and jobs.counts()["queued"] == 0


def test_csv_limits_and_errors(client, auth, jobs):
    csv_headers = {**auth, "Content-Type": "text/csv"}
    big = "a,y\n" + "".join(f"{i % 2},{i % 2}\n" for i in range(21))
    resp = client.post("/train?model=m&target=y", data=big, headers=csv_headers)
    assert resp.status_code == 422 and "more than 20 rows" in resp.json["error"]
    resp = client.post(
        "/train?model=m&target=y&epochs=9999", data="a,y\n0,0\n1,1\n", headers=csv_headers
    )
    assert resp.status_code == 422 and resp.json["details"][0]["loc"] == ["query", "epochs"]
    resp = client.post(
        "/train?model=m&target=y&depth=2", data="a,y\n0,0\n1,1\n", headers=csv_headers
    )
    assert resp.status_code == 422 and resp.json["details"][0]["loc"] == ["query", "depth"]
    resp = client.post("/train?model=m", data="a,y\n0,0\n1,1\n", headers=csv_headers)
    assert resp.status_code == 422 and resp.json["details"][0]["loc"] == ["target"]
    bad = "a,y\n" + "0,1\n" * 15 + "zz,1\n"
    resp = client.post("/train?model=m&target=y", data=bad, headers=csv_headers)
    assert resp.status_code == 422 and "line 17, column 'a'" in resp.json["error"]
    resp = client.post("/train?model=m&target=y", data=b"a,y\n\xff,1\n", headers=csv_headers)
    assert resp.status_code == 400
    assert jobs.pending() == 0


def test_a_body_over_the_size_limit_is_413(client, auth, jobs, settings_dict):
    rows = [{"a": 0.123456789, "y": i % 2} for i in range(3000)]  # > 64 KiB
    resp = submit(client, auth, {"model": "m", "rows": rows, "target": "y"})
    assert resp.status_code == 413 and resp.json["code"] == "payload_too_large"
    assert jobs.pending() == 0


# Parameters are fixed, not drawn: pytest-xdist's workers must collect the same test ids.
UNKNOWN_ID = "0123456789abcdef" * 2  # well-formed, never issued


@pytest.mark.parametrize("job_id", [UNKNOWN_ID, "not-a-job", "A" * 32, "0" * 33])
def test_unknown_or_malformed_job_ids_are_404(client, auth, jobs, job_id):
    assert client.get(f"/train/jobs/{job_id}").status_code == 404
    assert client.delete(f"/train/jobs/{job_id}", headers=auth).status_code == 404


def test_cancel_a_queued_job(client, auth, jobs, store):
    location = submit(client, auth, diabetes_job(epochs=50)).headers["Location"]
    assert client.delete(location).status_code == 401
    resp = client.delete(location, headers=auth)
    assert resp.status_code == 200 and resp.json["status"] == "cancelled"
    run_next(jobs)  # the trainer takes the task and leaves it alone
    assert client.get(location).json["status"] == "cancelled"
    assert store.versions("diabetes") == [1]
    resp = client.delete(location, headers=auth)
    assert resp.status_code == 409 and resp.json["error"] == "job already cancelled"


def test_queue_down_is_503_and_predictions_still_work(client, auth, app):
    dead = RedisHuey("down", url=f"redis://127.0.0.1:{free_port()}/0", results=False)
    app.extensions["nns.jobs"] = JobQueue(dead, app.extensions["nns.settings"])
    resp = submit(client, auth, diabetes_job())
    assert resp.status_code == 503 and resp.json["code"] == "queue_unavailable"
    assert "cannot reach the job queue" in resp.json["error"]
    assert "predictions still work" in resp.json["error"]
    assert client.get(f"/train/jobs/{uuid.uuid4().hex}").status_code == 503
    resp = client.post("/predict", json={"smoking": 0, "obesity": 1, "exercise": 0})
    assert resp.status_code == 200
    text = client.get("/metrics").data.decode()
    assert "nns_training_queue_up 0.0" in text


def test_metrics_count_jobs_by_outcome(client, auth, jobs):
    tiny = {"model": "tiny", "rows": [{"x": 0, "y": 0}, {"x": 1, "y": 1}], "target": "y"}
    failing = {**tiny, "hyperparameters": {"validation_split": 0.9}}  # no row left to train on
    for body in (diabetes_job(epochs=20), failing):
        submit(client, auth, body)
        run_next(jobs)
    client.delete(submit(client, auth, diabetes_job()).headers["Location"], headers=auth)
    submit(client, auth, diabetes_job())
    text = client.get("/metrics").data.decode()
    for outcome, n in {"queued": 4, "succeeded": 1, "failed": 1, "cancelled": 1}.items():
        assert f'nns_training_jobs_total{{outcome="{outcome}"}} {n}.0' in text
    assert "nns_training_queue_length 2.0" in text  # the cancelled task waits to be skipped


def test_openapi_describes_the_training_endpoints(client):
    doc = client.get("/openapi.json").json
    validate(doc)
    post = doc["paths"]["/train"]["post"]
    assert (
        post["security"] == [{"bearer": []}] and "Location" in post["responses"]["202"]["headers"]
    )
    assert set(post["requestBody"]["content"]) == {"application/json", "text/csv"}
    assert {"get", "delete"} <= set(doc["paths"]["/train/jobs/{job_id}"])
    schemas = doc["components"]["schemas"]
    assert {"TrainOnRows", "TrainOnMoons", "TrainOnDataset"} <= set(schemas)
    assert {"JobStatus", "JobAccepted", "Hyperparameters"} <= set(schemas)
    assert "epochs" in schemas["Hyperparameters"]["properties"]


def test_put_current_promotes_and_rolls_back(client, auth, store):
    train(store, epochs=50)  # version 2, current
    one = {"smoking": 0, "obesity": 1, "exercise": 0}
    wait_until(lambda: served_version(client) == 2, 5, what="version 2 to be served")
    resp = client.put("/models/diabetes/current", json={"version": 1}, headers=auth)
    assert resp.status_code == 200
    assert resp.json == {"name": "diabetes", "current_version": 1, "previous": 2}
    assert client.post("/predict", json=one).json["version"] == 1
    assert client.put("/models/diabetes/current", json={"version": 2}).status_code == 401
    resp = client.put("/models/diabetes/current", json={"version": 9}, headers=auth)
    assert resp.status_code == 404
    resp = client.put("/models/diabetes/current", json={"version": 0}, headers=auth)
    assert resp.status_code == 422
    resp = client.put("/models/nope/current", json={"version": 1}, headers=auth)
    assert resp.status_code == 404
    assert client.post("/predict", json=one).json["version"] == 1


def test_a_version_that_fails_to_load_is_refused_until_repaired_and_promoted_again(
    client, auth, store
):
    one = {"smoking": 0, "obesity": 1, "exercise": 0}
    assert client.post("/predict", json=one).json["version"] == 1
    failures_before = load_failures(client)
    weights, good = promote_rotten(store)  # version 2 becomes current, its weights rotten

    def refused() -> bool:  # the worker looked at CURRENT again, after the reload interval
        return client.get("/health/ready").json["status"] == "degraded"

    wait_until(refused, 5, what="the broken version 2 to be refused")
    resp = client.post("/predict", json=one)
    assert resp.status_code == 200 and resp.json["version"] == 1
    health = client.get("/health/ready").json
    assert health["status"] == "degraded" and "version 2" in health["problems"][0]
    assert "version 2" in client.get("/models/diabetes").json["load_error"]
    assert load_failures(client) == failures_before + 1
    weights.write_bytes(good)  # repaired by an operator, who promotes it again
    resp = client.put("/models/diabetes/current", json={"version": 2}, headers=auth)
    assert resp.status_code == 200
    assert client.post("/predict", json=one).json["version"] == 2
    assert client.get("/health/ready").json["status"] == "ok"


def test_exclude_means_the_same_for_nns_train_and_post_train(client, auth, jobs, store):
    from service.training.cli import train_main

    args = ["--dataset", "moons", "--samples", "20", "--exclude", "x1", "--epochs", "5", "--json"]
    assert train_main([*args, "--model", "cli", "--store", str(store.root)]) == 0
    body = {"model": "http", "dataset": "moons", "samples": 20, "exclude": ["x1"]}
    assert submit(client, auth, {**body, "hyperparameters": {"epochs": 5}}).status_code == 202
    run_next(jobs)
    cards = {name: client.get(f"/models/{name}/versions/1").json for name in ("cli", "http")}
    for card in cards.values():
        assert [f["name"] for f in card["features"]] == ["x2"]
        assert card["training"]["data"]["excluded"] == ["x1"]


def test_a_request_cannot_name_a_file_on_the_server(client, auth, jobs):
    body = {"model": "m", "file": "/etc/passwd", "target": "root"}
    resp = submit(client, auth, body)
    assert resp.status_code == 422 and resp.json["details"][0]["loc"] == ["file"]
    csv = {**auth, "Content-Type": "text/csv"}
    resp = client.post("/train?model=m&target=y&file=/etc/passwd", data="a,y\n0,0\n", headers=csv)
    assert resp.status_code == 422 and resp.json["details"][0]["loc"] == ["query", "file"]
    assert jobs.pending() == 0


def test_query_parameters_with_a_json_body_are_refused_not_ignored(client, auth, jobs):
    resp = submit(client, auth, diabetes_job(epochs=5), query_string={"epochs": "9"})
    assert resp.status_code == 422 and "only apply to a text/csv body" in resp.json["error"]
    assert jobs.pending() == 0


def test_a_replacement_judged_on_its_training_rows_alone_is_not_promoted(client, auth, jobs):
    location = submit(client, auth, diabetes_job(epochs=300)).headers["Location"]
    run_next(jobs)
    result = client.get(location).json["result"]
    assert result["metrics"]["evaluated_on"] == "training" and result["promoted"] is False
    assert "only on its training rows" in result["reason"]
