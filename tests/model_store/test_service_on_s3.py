"""The service on an s3:// store: real gunicorn and trainer, a moto server, over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from model_store import ModelStore, Store, open_store
from model_store.s3 import S3Store, make_client
from service.serving.registry import Registry
from tests.support.api import AUTH, ONE, TOKEN
from tests.support.cluster import served_by_worker
from tests.support.harness import Gunicorn, free_port, http, start_trainer, train_cli, wait_until
from tests.support.s3_servers import Relay, S3Server, counting_client
from tests.support.training import train

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
    train(s3_store)
    registry = Registry(s3_store, max_batch=10, reload_interval=0.05)
    registry.refresh()
    assert registry.get("diabetes").version == 1
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    registry.store = open_store(s3_store.location)  # the same bucket, now out of reach
    registry.refresh()
    assert registry.get("diabetes").version == 1 and not registry.errors


def publish_copies(store: Store, names: list[str], tmp_path: Path) -> tuple[dict, dict]:
    """Publish a small trained model under each name (trained once, on the filesystem).

    Returns the arrays and metadata published, to publish more versions of them.
    """
    template = ModelStore(tmp_path / "template")
    train(template, epochs=50)
    artifact = template.load("diabetes")
    meta = {k: v for k, v in artifact.meta.items() if k != "attachments"}
    for name in names:
        store.publish(name, artifact.arrays, meta)
    return artifact.arrays, meta


@pytest.mark.parametrize("models", [3, 30])
def test_a_look_at_an_unchanged_store_is_one_list_whatever_the_number_of_models(
    moto_server: S3Server, s3_raw: S3Raw, s3_env: dict, tmp_path: Path, models: int
) -> None:
    names = [f"m{i:02d}" for i in range(models)]
    model = publish_copies(open_store(s3_raw.location), names, tmp_path)
    client, seen = counting_client(s3_env)
    registry = Registry(S3Store(s3_raw.location, client=client), max_batch=10, reload_interval=60)
    registry.refresh()
    assert sorted(registry.current) == names
    seen.clear()
    start = moto_server.mark(s3_raw.client, s3_raw.bucket)
    for _ in range(3):
        registry.refresh()
    requests = moto_server.requests(
        s3_raw.bucket, start, moto_server.mark(s3_raw.client, s3_raw.bucket)
    )
    assert seen == {("ListObjectsV2", 200): 3}
    assert len(requests) == 3 and all(r.startswith("GET ") and "list-type=2" in r for r in requests)
    # A promotion costs the look its CURRENT and the new version: one GET each, no more.
    open_store(s3_raw.location).publish(names[1], *model)
    seen.clear()
    registry.refresh()
    assert registry.current[names[1]].version == 2
    assert seen == {("ListObjectsV2", 200): 1, ("GetObject", 200): 3}


@pytest.fixture
def relay(moto_server: S3Server):
    """A relay in front of the moto server, to cut the store off or slow it down."""
    relay = Relay(moto_server.endpoint)
    yield relay
    relay.close()


def test_the_watcher_loads_a_promotion_made_during_an_outage_once_the_store_is_back(
    s3_raw: S3Raw, s3_env: dict, relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    direct = open_store(s3_raw.location)
    train(direct, epochs=50)
    far = S3Store(
        s3_raw.location, client=make_client({**s3_env, "AWS_ENDPOINT_URL": relay.endpoint})
    )
    registry = Registry(far, max_batch=10, reload_interval=0.05)
    registry.refresh()
    registry.watch()

    def failed_looks() -> int:
        return sum(r.getMessage() == "model store poll failed" for r in caplog.records)

    relay.down()
    wait_until(lambda: failed_looks() >= 2, 30, what="looks to fail")
    train(direct, epochs=50)  # version 2, promoted while the watcher cannot see the store
    before = failed_looks()
    wait_until(lambda: failed_looks() > before, 30, what="a look after the promotion to fail")
    assert registry.get("diabetes").version == 1 and registry._watcher.is_alive()
    relay.up()
    wait_until(lambda: registry.get("diabetes").version == 2, 30, what="the watcher to load it")
    assert not registry.errors
    registry.close()


def test_gunicorn_on_s3_looks_with_one_list_per_worker_off_the_request_path(
    moto_server: S3Server, s3_raw: S3Raw, relay: Relay, tmp_path: Path
) -> None:
    names = ["diabetes", *(f"m{i:02d}" for i in range(20))]
    publish_copies(open_store(s3_raw.location), names, tmp_path)
    interval, workers, window = 0.2, 2, 3.0
    env = {
        "NNS_MODEL_STORE": s3_raw.location,
        "NNS_RELOAD_INTERVAL": str(interval),
        **moto_server.env(tmp_path),
        "AWS_ENDPOINT_URL": relay.endpoint,
    }
    api = Gunicorn(tmp_path, tmp_path / "gunicorn.log", workers=workers, **env)
    try:
        api.wait_ready()
        both = lambda: len(served_by_worker(api)) == workers  # noqa: E731 - each has loaded
        wait_until(both, 60, what="every worker to answer")
        start = moto_server.mark(s3_raw.client, s3_raw.bucket)
        time.sleep(window)  # what the watchers do on their own; nothing else uses the bucket
        requests = moto_server.requests(
            s3_raw.bucket, start, moto_server.mark(s3_raw.client, s3_raw.bucket)
        )
        # Every look is one LIST of the top level, whatever the number of models.
        assert requests and all("list-type=2" in r and "delimiter=/" in r for r in requests)
        assert len(requests) <= workers * (window / interval + 2), len(requests)

        # A store that takes a second per answer slows the looks, never a prediction.
        relay.delay = 1.0
        slowest, deadline = 0.0, time.monotonic() + window
        while time.monotonic() < deadline:
            started = time.monotonic()
            status, _, body = http("POST", api.url + "/predict", ONE)
            slowest = max(slowest, time.monotonic() - started)
            assert (status, body["version"]) == (200, 1)
        assert slowest < relay.delay / 2, f"a prediction took {slowest:.3f} s"
    finally:
        relay.delay = 0.0
        api.stop()
    assert "Traceback" not in api.output()
