"""The service on an s3:// store: real gunicorn and trainer, a moto server, over HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model_store import open_store
from tests.support.api import AUTH, ONE, TOKEN
from tests.support.harness import Gunicorn, http, start_trainer, train_cli, wait_until

from .conftest import S3Raw

pytestmark = pytest.mark.process


def test_gunicorn_serves_trains_and_promotes_on_an_s3_store(s3_raw: S3Raw, tmp_path: Path):
    location = s3_raw.location
    assert train_cli(location, "--epochs", "500")["version"] == 1
    env = {"NNS_MODEL_STORE": location, "NNS_RELOAD_INTERVAL": "0.2", "NNS_ADMIN_TOKEN": TOKEN}
    api = Gunicorn(tmp_path, tmp_path / "gunicorn.log", workers=2, **env)
    trainer = start_trainer(tmp_path, tmp_path / "trainer.log", **env)
    try:
        api.wait_ready()
        status, _, body = http("POST", api.url + "/predict", ONE)
        assert (status, body["version"], body["label"]) == (200, 1, 1)

        # A job run by the trainer publishes version 2 to the bucket; every worker reloads it.
        job = {"model": "diabetes", "dataset": "diabetes", "hyperparameters": {"epochs": 300}}
        job["promote"] = "always"  # the store's switch is under test, not the gate
        status, headers, body = http("POST", api.url + "/train", job, AUTH)
        assert status == 202, body
        wait_until(
            lambda: http("GET", api.url + headers["Location"])[2]["status"] == "succeeded",
            60,
            what="the training job",
        )
        assert open_store(location).current_version("diabetes") == 2
        served = {http("POST", api.url + "/predict", ONE)[2]["version"] for _ in range(20)}
        wait_until(
            lambda: (
                {http("POST", api.url + "/predict", ONE)[2]["version"] for _ in range(20)} == {2}
            ),
            10,
            what="both workers to serve version 2",
        )

        # Rolling back through the API is a compare-and-swap on the bucket's CURRENT.
        status, _, body = http("PUT", api.url + "/models/diabetes/current", {"version": 1}, AUTH)
        assert status == 200, body
        assert open_store(location).promoted_versions("diabetes") == [1, 2]
        wait_until(
            lambda: (
                {http("POST", api.url + "/predict", ONE)[2]["version"] for _ in range(20)} == {1}
            ),
            10,
            what="both workers to serve version 1 again",
        )
        assert http("GET", api.url + "/health/ready")[0] == 200
        assert served <= {1, 2}
        dashboard_and_file_scoring(api, location, headers["Location"].rsplit("/", 1)[1])
    finally:
        trainer.stop()
        api.stop()
    assert "Traceback" not in api.output() + trainer.output()


def dashboard_and_file_scoring(api: Gunicorn, location: str, job_id: str) -> None:
    """The dashboard's pages and a file to score read the bucket as the JSON API does."""
    status, _, page = http("GET", api.url + "/ui/models/diabetes")
    assert status == 200 and page.count(b'data-action="promote"') == 1  # v2, not current
    assert b"<polyline" in page and b"v1</a>" in page and b"v2</a>" in page
    assert job_id.encode() in http("GET", api.url + "/ui/jobs")[2]
    assert http("GET", api.url + f"/ui/jobs/{job_id}")[0] == 200
    rows = b"smoking,obesity,exercise\n0,1,0\n1,0,1\n"
    csv_in = {"Content-Type": "text/csv", "Accept": "text/csv"}
    status, _, answer = http("POST", api.url + "/models/diabetes/versions/2/predict", rows, csv_in)
    assert status == 200 and answer.startswith(b"smoking,obesity,exercise,label,probability_0")
    argv = [sys.executable, "-m", "service.serving.scorecli", "--store", location]
    data = Path(api.log_path).parent / "people.csv"
    data.write_bytes(rows)
    done = subprocess.run([*argv, "--model", "diabetes", "--data", str(data)], capture_output=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith(b"smoking,obesity"), done.stderr


def test_the_registry_keeps_serving_when_object_storage_is_unreachable(
    s3_store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.serving.registry import Registry
    from tests.support.harness import free_port
    from tests.support.training import train

    train(s3_store)
    registry = Registry(s3_store, max_batch=10, reload_interval=0.05)
    registry.refresh()
    assert registry.get("diabetes").version == 1
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    registry.store = open_store(s3_store.location)  # the same bucket, now out of reach
    registry.refresh()
    assert registry.get("diabetes").version == 1 and not registry.errors
