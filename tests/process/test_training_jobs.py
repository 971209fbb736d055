"""Real gunicorn (two workers) and a real trainer process sharing a job queue: SQLite, and the
same training flow on a real redis-server."""

from __future__ import annotations

import re
import signal
import time

import pytest
import redis

from model_store import ModelStore
from service.data import datasets
from service.jobs.queue import JobQueue
from service.settings import Settings
from service.training.pipeline import train_model
from service.training.request import TrainRequest
from service.training.spec import Hyperparameters, TrainSpec
from tests.support.api import (
    AUTH,
    TOKEN,
    Predicting,
    finished,
    serve_within,
    submit,
    versions_served,
)
from tests.support.harness import Gunicorn, http, start_trainer, wait_until
from tests.support.stack import Stack
from tests.support.training import ROWS

pytestmark = pytest.mark.process


def queued_total(api: Gunicorn) -> float:
    text = http("GET", api.url + "/metrics")[2].decode()
    return float(re.search(r'nns_training_jobs_total\{outcome="queued"\} (\S+)', text).group(1))


def retrain_and_roll_back(stack: Stack) -> dict:
    """Retrain diabetes over HTTP, see every worker serve it, roll back, fail a job; return
    the first job's record."""
    api, old = stack.api, stack.store.current_version("diabetes")
    assert versions_served(api) == {old}
    # Eight rows are too few to hold any out: only "always" replaces a version on them.
    body = {"model": "diabetes", "rows": ROWS, "target": "diabetic", "promote": "always"}
    location = submit(api, body)
    job = finished(api, location)
    assert job["status"] == "succeeded", job
    first, new = job, job["result"]["version"]
    assert new == max(stack.store.versions("diabetes")) > old and job["result"]["promoted"]
    assert job["result"]["metrics"]["rows"] == len(ROWS)
    serve_within(api, new)

    status, _, answer = http("PUT", api.url + "/models/diabetes/current", {"version": old}, AUTH)
    assert status == 200 and answer["previous"] == new
    serve_within(api, old)

    client = Predicting(api)
    try:
        before = queued_total(api)
        wrong = [{"smoking": 0, "obese": 1, "y": 1}, {"smoking": 1, "obese": 0, "y": 0}]
        body = {"model": "diabetes", "rows": wrong, "target": "y"}
        status, _, answer = http("POST", api.url + "/train", body, AUTH)
        assert status == 422 and "unexpected ['obese']" in answer["error"]
        assert queued_total(api) == before  # refused at submission: nothing queued
        body = {"model": "broken", "rows": [{"x": 0, "y": 0}, {"x": 1, "y": 1}], "target": "y"}
        location = submit(api, {**body, "hyperparameters": {"validation_split": 0.9}})
        job = finished(api, location)
        assert job["status"] == "failed" and job["result"] is None
        assert job["error"] == "validation split 0.9 leaves no training rows out of 2"
    finally:
        answers = client.stop()
    assert answers and all(status == 200 and body["version"] == old for status, body in answers)
    assert http("GET", api.url + "/models/broken")[0] == 404
    return first


def test_retrain_promote_roll_back_and_a_failing_job_on_sqlite(stack):
    retrain_and_roll_back(stack)


def test_retrain_promote_roll_back_and_a_failing_job_on_redis(tmp_path, start_stack, redis_server):
    job = retrain_and_roll_back(start_stack(NNS_REDIS_URL=redis_server.url))
    stored = redis.Redis.from_url(redis_server.url).hget(f"nns:job:{job['job_id']}", "doc")
    assert b'"status":"succeeded"' in stored  # job state lives in Redis
    assert not (tmp_path / "jobs.sqlite3").exists()


def test_promotions_and_rollbacks_under_load_fail_no_request(stack):
    for promote in (True, True, False):  # versions 1 and 2; 3 is never current
        params = Hyperparameters(epochs=50)
        train_model(
            TrainSpec(model="flip", hyperparameters=params, promote=promote),
            datasets.xor(),
            stack.store,
        )
    api, row = stack.api, {"x1": 0, "x2": 1}
    wait_until(
        lambda: versions_served(api, path="/models/flip/predict", row=row) == {2}, 3, what="flip"
    )
    client = Predicting(api, "/models/flip/predict", row)
    wait_until(lambda: len(client.answers) >= 10, 10, what="the client to get answers")
    for _ in range(10):
        for version in (1, 2):  # a rollback, then a promotion, back to back
            status, _, answer = http(
                "PUT", api.url + "/models/flip/current", {"version": version}, AUTH
            )
            assert status == 200, answer
    served = len(client.answers)
    wait_until(lambda: len(client.answers) >= served + 50, 20, what="50 answers after the flips")
    answers = client.stop()
    wait_until(
        lambda: versions_served(api, path="/models/flip/predict", row=row) == {2}, 5, what="v2"
    )
    failed = [a for a in answers if a[0] != 200]
    assert not failed and len(answers) > 50
    assert {body["version"] for _, body in answers} <= {1, 2}


def test_refusals_queue_nothing(stack):
    api, settings = stack.api, Settings(data_dir=stack.data_dir)
    pending, before = JobQueue.from_settings(settings).pending(), queued_total(api)
    body = {"model": "diabetes", "rows": ROWS, "target": "diabetic"}
    cases = [
        (body, {}, 401),
        (body, {"Authorization": "Bearer wrong-token"}, 401),
        (body, {"Authorization": TOKEN}, 401),
        ({**body, "rows": ROWS * 63}, AUTH, 422),
        ({**body, "hyperparameters": {"epochs": 10**6}}, AUTH, 422),
        ({**body, "hyperparameters": {"hidden": [10_000]}}, AUTH, 422),
        ({**body, "hyperparameters": {"hidden": [2] * 50}}, AUTH, 422),
        ({**body, "timeout": 10**6}, AUTH, 422),
        ({"model": "m", "dataset": "moons", "samples": 10**9}, AUTH, 422),
        ({**body, "rows": ROWS * 5000}, AUTH, 413),
    ]
    for case, headers, expected in cases:
        status, _, answer = http("POST", api.url + "/train", case, headers)
        assert status == expected, (expected, answer)
    assert JobQueue.from_settings(settings).pending() == pending
    assert queued_total(api) == before


def slow_job(api: Gunicorn) -> str:
    """Submit a job of many epochs and return its location once it is running."""
    hyper = {"hidden": [16], "epochs": 200_000}
    location = submit(
        api, {"model": "slow", "dataset": "moons", "samples": 200, "hyperparameters": hyper}
    )

    def progressing():
        job = http("GET", api.url + location)[2]
        return job["status"] == "running" and job["progress"]["epoch"] > 0

    wait_until(progressing, 30, what="the job to run")
    return location


def test_delete_stops_a_running_job_and_nothing_is_published(stack):
    location = slow_job(stack.api)
    assert http("DELETE", stack.api.url + location)[0] == 401
    status, _, job = http("DELETE", stack.api.url + location, headers=AUTH)
    assert status == 202 and job["status"] == "running" and job["cancel_requested"] is True
    job = finished(stack.api, location, timeout=5)
    assert job["status"] == "cancelled" and job["error"].startswith("cancelled at epoch")
    assert "slow" not in stack.store.list_models()
    assert http("DELETE", stack.api.url + location, headers=AUTH)[0] == 409


def test_sigkill_mid_job_reports_it_failed_and_keeps_the_store_loadable(stack):
    """The restarted trainer's reaper fails the orphaned job (no re-queues in this stack)."""
    api, stale_after = stack.api, 2
    location = slow_job(api)
    stack.trainer.kill(signal.SIGKILL)
    killed = time.monotonic()
    stack.trainer.stop()
    stack.trainer = stack.start_trainer()  # as a restart policy does
    job = finished(api, location, timeout=stale_after + 20)
    assert job["status"] == "failed" and "stopped sending heartbeats" in job["error"], job
    assert "gave up after 0 re-queues" in job["error"]
    assert time.monotonic() - killed < stale_after + 10

    assert stack.store.load("diabetes") and "slow" not in stack.store.list_models()
    assert http("GET", api.url + "/health/ready")[0] == 200
    assert len(versions_served(api)) == 1

    location = submit(api, {"model": "after-kill", "dataset": "xor"})  # it takes new jobs
    assert finished(api, location)["status"] == "succeeded"
    assert http("GET", api.url + location)[2]["status"] == "succeeded"


def test_sigterm_puts_the_running_job_back_for_the_next_trainer(tmp_path):
    settings = Settings(data_dir=tmp_path)
    queue = JobQueue.from_settings(settings)
    params = Hyperparameters(hidden=[16], epochs=200_000, validation_split=0, patience=None)
    request = TrainRequest(
        model="slow", dataset="moons", samples=200, hyperparameters=params, promote="always"
    )
    job_id = queue.submit(request)["job_id"]

    def progressing():
        job = queue.get(job_id)
        return job["status"] == "running" and job["progress"]["epoch"] > 0

    first = start_trainer(tmp_path, tmp_path / "trainer1.log")
    try:
        wait_until(progressing, 30, what="the job to run")
        first.kill(signal.SIGTERM)
        assert first.popen.wait(20) == 0
    finally:
        first.stop()
    job = queue.get(job_id)
    assert job["status"] == "queued" and job["progress"]["epoch"] == 0 and queue.pending() == 1
    assert job["attempts"] == 1 and job["requeues"] == 0  # handed back, not lost
    second = start_trainer(tmp_path, tmp_path / "trainer2.log")
    try:
        wait_until(progressing, 30, what="the next trainer to run it")
        assert queue.cancel(job_id)["cancel_requested"]
        wait_until(lambda: queue.get(job_id)["status"] == "cancelled", 10, what="the cancel")
    finally:
        second.stop()
    assert "slow" not in ModelStore(settings.store_root).list_models()
