"""The promotion gate over HTTP: job results say why, versions compare side by side."""

from __future__ import annotations

import numpy as np
import pytest

from service.data import datasets
from service.jobs.queue import JobQueue
from service.jobs.trainer import Trainer
from service.web.app import create_app

PARAMS = {"hidden": [16], "epochs": 300, "learning_rate": 0.01, "batch_size": None}


def rows(shuffled: bool) -> list[dict]:
    data = datasets.make_moons(300, 0.2, seed=5)
    y = np.random.default_rng(5).permutation(data.y) if shuffled else data.y
    return [{"x1": a, "x2": b, "label": int(c)} for (a, b), c in zip(data.X, y, strict=True)]


@pytest.fixture
def client(settings_dict):
    app = create_app({**settings_dict, "max_train_rows": 1000, "max_body_bytes": 1 << 20})
    client = app.test_client()
    client.queue = JobQueue.from_settings(app.extensions["nns.settings"])  # the trainer's side
    return client


def train(client, auth, shuffled: bool, **extra) -> dict:
    body = {"model": "gate", "rows": rows(shuffled), "target": "label", "hyperparameters": PARAMS}
    resp = client.post("/train", json={**body, **extra}, headers=auth)
    assert resp.status_code == 202, resp.json
    Trainer(client.queue).run_job(client.queue.take())
    job = client.get(resp.headers["Location"]).json
    assert job["status"] == "succeeded", job
    return job["result"]


def test_a_broken_retrain_is_refused_then_forced_then_rolled_back(client, auth):
    first = train(client, auth, shuffled=False)
    assert first["promoted"] and first["reason"].startswith("promoted")
    broken = train(client, auth, shuffled=True)
    assert not broken["promoted"] and broken["reason"].startswith(
        "not promoted: 5-fold cross-validated"
    )
    assert broken["baseline"]["kind"] == "majority class"
    assert client.post("/models/gate/predict", json={"x1": 0, "x2": 0}).json["version"] == 1
    pinned = client.post("/models/gate/versions/2/predict", json={"x1": 0, "x2": 0})
    assert pinned.status_code == 200 and pinned.json["version"] == 2

    listed = client.get("/models/gate/versions").json
    assert listed["current_version"] == 1
    v2, v1 = listed["versions"]
    assert (v2["version"], v2["current"], v2["promotion"]["promoted"]) == (2, False, False)
    assert v2["promotion"]["reason"] == broken["reason"] and v2["baseline"]["log_loss"] > 0
    assert v1["current"] and v1["data"]["sha256"] != v2["data"]["sha256"]

    forced = train(client, auth, shuffled=True, promote=True)  # the old boolean: always
    assert forced["promoted"] and forced["reason"] == "promote=always"
    resp = client.put("/models/gate/current", json={"version": 1}, headers=auth)
    assert resp.status_code == 200 and resp.json["previous"] == 3
    assert client.get("/models/gate/versions").json["current_version"] == 1


def test_never_stores_without_serving(client, auth):
    result = train(client, auth, shuffled=False, promote="never")
    assert not result["promoted"] and result["reason"].startswith("promote=never")
    assert client.get("/models/gate").status_code == 404
