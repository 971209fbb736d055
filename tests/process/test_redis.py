"""The API riding out Redis going away: training answers 503, predictions go on, and training
resumes when Redis is back, with no restart of gunicorn or the trainer."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.support.api import AUTH, Predicting, finished, submit
from tests.support.harness import RedisServer, http
from tests.support.training import ROWS

pytestmark = pytest.mark.process


def test_redis_down_is_503_for_training_only_and_training_resumes_when_it_is_back(
    tmp_path, start_stack, redis_server
):
    api, port = start_stack(NNS_REDIS_URL=redis_server.url).api, redis_server.port
    redis_server.stop()
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
