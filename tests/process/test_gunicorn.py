"""Real gunicorn, two workers, a store trained by scripts/train.py, called over HTTP."""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.harness import Gunicorn, http, train_cli, wait_until

pytestmark = pytest.mark.process


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """The server's data directory: diabetes and moons v1, trained by scripts/train.py."""
    root = tmp_path_factory.mktemp("gunicorn")
    train_cli(root / "models", "--epochs", "500")
    train_cli(root / "models", "--dataset", "moons", "--hidden", "8", "--epochs", "200")
    return root


@pytest.fixture(scope="module")
def server(data_dir):
    """One gunicorn for the module: its tests count only what they send themselves."""
    srv = Gunicorn(data_dir, data_dir / "gunicorn.log", workers=2)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def _count(text: str, pattern: str) -> float:
    return sum(float(v) for v in re.findall(pattern + r" ([0-9.e+]+)", text))


def test_predicts_over_http_and_metrics_sum_both_workers(server, data_dir):
    status, headers, body = http(
        "POST", server.url + "/predict", {"smoking": 0, "obesity": 1, "exercise": 0}
    )
    assert status == 200
    assert body["model"] == "diabetes" and body["version"] == 1 and body["label"] == 1
    assert headers["X-Content-Type-Options"] == "nosniff"

    # Concurrent requests until both sync workers have served some (the kernel picks which
    # worker accepts each connection, so how many that takes is not fixed).
    row = {"smoking": 1, "obesity": 0, "exercise": 0}
    sent: list[int] = []
    workers = server.worker_pids()
    assert len(workers) == 2

    def both_served() -> bool:
        url = server.url + "/predict"
        with ThreadPoolExecutor(8) as pool:
            sent.extend(pool.map(lambda _: http("POST", url, row)[0], range(40)))
        files = {p.name for p in (data_dir / "metrics").iterdir()}
        return all(f"counter_{pid}.db" in files for pid in workers)

    wait_until(both_served, 30, interval=0, what="both workers to serve requests")
    n = len(sent)
    assert sent == [200] * n and server.worker_pids() == workers

    status, _, text = http("GET", server.url + "/metrics")
    text = text.decode()
    assert status == 200
    predictions = _count(text, r'nns_predictions_total\{model="diabetes",version="1"\}')
    assert predictions == n + 1
    ok = _count(text, r'nns_http_requests_total\{endpoint="/predict",method="POST",status="200"\}')
    assert ok == n + 1
    assert "nns_http_request_duration_seconds_bucket" in text


def test_batch_cards_and_errors_over_http(server):
    rows = [{"x1": 0.1 * i, "x2": -0.2 * i} for i in range(20)]
    status, _, body = http("POST", server.url + "/models/moons/predict", {"instances": rows})
    assert status == 200 and len(body["predictions"]) == 20
    status, _, card = http("GET", server.url + "/models/moons")
    assert status == 200 and [f["name"] for f in card["features"]] == ["x1", "x2"]
    status, _, err = http("POST", server.url + "/predict", b"{not json")
    assert status == 400 and err["code"] == "bad_request"
    status, headers, err = http(
        "POST",
        server.url + "/predict",
        {"smoking": 2, "obesity": 0, "exercise": 0},
        headers={"X-Request-ID": "abc-123"},
    )
    assert status == 422 and err["request_id"] == "abc-123" and headers["X-Request-ID"] == "abc-123"
    assert "2" not in err["error"] and err["details"][0]["loc"] == ["smoking"]


def test_every_log_line_is_json_with_request_ids(tmp_path, data_dir):
    shutil.copytree(data_dir / "models", tmp_path / "models")
    srv = Gunicorn(tmp_path, tmp_path / "gunicorn.log", workers=1, NNS_LOG_LEVEL="INFO")
    try:
        srv.wait_ready()
        http("POST", srv.url + "/predict", {"smoking": 0}, headers={"X-Request-ID": "log-1"})
    finally:
        srv.stop()
    lines = [json.loads(line) for line in srv.output().splitlines() if line.strip()]
    assert any(rec.get("logger") == "gunicorn.error" for rec in lines)  # gunicorn's own lines
    access = [rec for rec in lines if rec.get("logger") == "gunicorn.access"]
    assert any(rec["request_id"] == "log-1" and rec["status"] == 422 for rec in access)
