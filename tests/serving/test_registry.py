"""The registry: what it serves, and a model the promotion gate kept from being served."""

from __future__ import annotations

from service.data import datasets
from service.training.pipeline import train_model
from service.training.spec import Hyperparameters, TrainSpec
from tests.support.harness import wait_until


def test_a_model_whose_versions_were_never_promoted_is_neither_served_nor_an_error(client, store):
    train_model(
        TrainSpec(model="fresh", hyperparameters=Hyperparameters(epochs=5), promote="never"),
        datasets.xor(),
        store,
    )
    assert store.versions("fresh") == [1]
    assert client.get("/health/ready").status_code == 200  # readiness is not affected

    def refused():  # "not found" until the watcher has looked at the store
        resp = client.post("/models/fresh/predict", json={"x1": 0, "x2": 1})
        return resp if "has no current version" in resp.json["error"] else None

    assert wait_until(refused, 5, what="the watcher to see 'fresh'").status_code == 404
    resp = client.post("/models/fresh/versions/1/predict", json={"x1": 0, "x2": 1})
    assert resp.status_code == 200 and resp.json["version"] == 1  # pinned: still usable
    listed = {m["name"]: m for m in client.get("/models").json["models"]}
    assert listed["fresh"]["current_version"] is None and listed["fresh"]["error"] is None
