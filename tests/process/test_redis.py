"""The training flow on a real redis-server, and the API riding out Redis going away."""

from __future__ import annotations

import re
import uuid

import pytest
import redis

from scripts.harness import RedisServer, http
from tests.process.test_training_jobs import (
    AUTH,
    ROWS,
    Predicting,
    finished,
    report,
    retrain_and_roll_back,
    running,
    submit,
)

pytestmark = pytest.mark.process


@pytest.fixture
def server(tmp_path):
    redis_server = RedisServer(tmp_path / "redis.log")
    try:
        yield redis_server
    finally:
        redis_server.stop()


def test_retrain_promote_roll_back_and_a_failing_job_on_redis(tmp_path, server, capsys):
    with running(tmp_path, NNS_REDIS_URL=server.url) as stack:
        timings = retrain_and_roll_back(stack)
    report(capsys, "redis", timings)
    stored = redis.Redis.from_url(server.url).hget(f"nns:job:{timings['job']['job_id']}", "doc")
    assert b'"status":"succeeded"' in stored  # job state lives in Redis
    assert not (tmp_path / "jobs.sqlite3").exists()


def test_redis_down_is_503_for_training_only_and_training_resumes_when_it_is_back(tmp_path, server):
    with running(tmp_path, NNS_REDIS_URL=server.url) as stack:
        api, port = stack.api, server.port
        server.stop()
        client = Predicting(api)
        try:
            body = {"model": "diabetes", "rows": ROWS, "target": "diabetic"}
            status, _, answer = http("POST", api.url + "/train", body, AUTH)
            assert status == 503 and answer["code"] == "queue_unavailable"
            assert "cannot reach the job queue (Redis" in answer["error"]
            assert "predictions still work" in answer["error"]
            assert http("GET", f"{api.url}/train/jobs/{uuid.uuid4().hex}")[0] == 503
            metrics = http("GET", api.url + "/metrics")[2].decode()
            assert re.search(r"^nns_training_queue_up 0\.0$", metrics, re.M)
        finally:
            answers = client.stop()
        assert answers and all(status == 200 for status, _ in answers)

        back = RedisServer(tmp_path / "redis-again.log", port=port)
        try:
            location = submit(api, body)  # no restart of gunicorn or the trainer
            assert finished(api, location)["status"] == "succeeded"
        finally:
            back.stop()
