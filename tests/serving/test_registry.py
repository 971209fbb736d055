"""The registry: what it serves, and a model the promotion gate kept from being served."""

from __future__ import annotations

from service.data import datasets
from service.training.pipeline import train_model
from service.training.spec import Hyperparameters, TrainSpec


def test_a_model_whose_versions_were_never_promoted_is_neither_served_nor_an_error(client, store):
    train_model(
        TrainSpec(model="fresh", hyperparameters=Hyperparameters(epochs=5), promote="never"),
        datasets.xor(),
        store,
    )
    assert store.versions("fresh") == [1]
    assert client.get("/health/ready").status_code == 200  # readiness is not affected
    resp = client.post("/models/fresh/predict", json={"x1": 0, "x2": 1})
    assert resp.status_code == 404 and "has no current version" in resp.json["error"]
    resp = client.post("/models/fresh/versions/1/predict", json={"x1": 0, "x2": 1})
    assert resp.status_code == 200 and resp.json["version"] == 1  # pinned: still usable
    listed = {m["name"]: m for m in client.get("/models").json["models"]}
    assert listed["fresh"]["current_version"] is None and listed["fresh"]["error"] is None
