"""Every endpoint through Flask's test client, with the one error shape on each failure."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from openapi_spec_validator import validate

from service.data import datasets
from service.training.pipeline import train_model
from service.training.spec import Hyperparameters, TrainSpec
from service.web.app import create_app
from tests.support.harness import wait_until
from tests.support.training import promote_rotten, train

ROW = {"smoking": 0, "obesity": 1, "exercise": 0}


def test_live_and_ready(client):
    assert client.get("/health/live").get_json() == {"status": "ok"}
    resp = client.get("/health/ready")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok" and body["models"]["diabetes"]["serving_version"] == 1


def test_not_ready_without_default_model(tmp_path):
    settings = {"data_dir": tmp_path, "model_store": tmp_path / "empty"}
    for configured, says in [("diabetes", "'diabetes' is not in the store"), (None, "no model")]:
        app = create_app({**settings, "default_model": configured})
        resp = app.test_client().get("/health/ready")
        assert resp.status_code == 503
        body = resp.get_json()
        assert body["status"] == "unavailable"
        assert says in body["problems"][0] and "train" in body["problems"][0]
        resp = app.test_client().post("/predict", json=ROW)
        assert resp.status_code == 404 and resp.get_json()["code"] == "not_found"


def test_without_a_default_model_the_stores_own_models_decide(tmp_path, store):
    """A store without diabetes and no NNS_DEFAULT_MODEL: ready once its models load; POST
    /predict is the only model's, or a 404 that names the models."""
    only_moons = tmp_path / "own"
    only_moons.mkdir()
    shutil.copytree(store.root / "moons", only_moons / "moons")
    client = create_app({"data_dir": tmp_path, "model_store": only_moons}).test_client()
    assert client.get("/health/ready").status_code == 200
    resp = client.post("/predict", json={"x1": 0.5, "x2": 0.1})
    assert resp.status_code == 200 and resp.get_json()["model"] == "moons"
    assert client.get("/models").get_json()["default_model"] == "moons"
    both = create_app({"data_dir": tmp_path, "model_store": store.root}).test_client()
    assert both.get("/health/ready").status_code == 200
    resp = both.post("/predict", json=ROW)
    assert resp.status_code == 404 and "diabetes, moons" in resp.get_json()["error"]
    assert both.post("/models/diabetes/predict", json=ROW).status_code == 200


def test_single_prediction_names_model_and_version(client):
    resp = client.post("/predict", json=ROW)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["model"] == "diabetes" and body["version"] == 1
    assert body["label"] == 1 and 0.5 < body["probability"] <= 1
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_batch_matches_single_rows_whatever_the_key_order(client):
    rows = [
        {"smoking": 1, "obesity": 0, "exercise": 0},
        {"exercise": 0, "obesity": 1, "smoking": 0},
        {"obesity": 1, "exercise": 1, "smoking": 1},
    ]
    batch = client.post("/predict", json={"instances": rows}).get_json()
    singles = [client.post("/predict", json=r).get_json() for r in rows]
    # BLAS may pick another kernel for one row than for a batch: equal up to the last bits.
    assert [p["probability"] for p in batch["predictions"]] == pytest.approx(
        [s["probability"] for s in singles], rel=1e-12
    )
    assert [p["label"] for p in batch["predictions"]] == [0, 1, 1]


def test_predictions_equal_the_network_on_standardised_input(app, client, store):
    predictor = app.extensions["nns.registry"].get("moons")
    rows = [{"x1": 0.25 * i, "x2": -0.5 + 0.1 * i} for i in range(10)]
    got = client.post("/models/moons/predict", json={"instances": rows}).get_json()
    X = np.array([[r["x1"], r["x2"]] for r in rows])
    want = predictor.net.predict(predictor.scaler.transform(X))[:, 0]
    assert [p["probability"] for p in got["predictions"]] == want.tolist()


def test_pinned_version_and_current(client, store):
    train(store, epochs=50, seed=7)  # version 2 becomes current
    wait_until(lambda: served(client) == 2, 10, what="the watcher to load version 2")
    assert client.post("/models/diabetes/versions/1/predict", json=ROW).get_json()["version"] == 1
    assert client.post("/models/diabetes/predict", json=ROW).get_json()["version"] == 2


def test_models_list_and_cards(client, store):
    models = client.get("/models").get_json()
    assert models["default_model"] == "diabetes"
    by_name = {m["name"]: m for m in models["models"]}
    assert by_name["diabetes"]["current_version"] == 1 and by_name["diabetes"]["versions"] == [1]
    card = client.get("/models/diabetes").get_json()
    assert card["task"] == "binary" and card["target"] == "diabetic"
    assert [f["name"] for f in card["features"]] == ["smoking", "obesity", "exercise"]
    assert all(f["type"] == "binary" for f in card["features"])
    assert card["architecture"]["hidden"] == [4]
    assert "accuracy" in card["metrics"] and card["training"]["epochs_run"] == 300
    assert client.get("/models/diabetes/versions/1").get_json()["version"] == 1
    assert client.get("/models/diabetes/versions/2").status_code == 404


def test_promote_and_roll_back(client, store, auth):
    train(store, epochs=50, seed=3)
    resp = client.put("/models/diabetes/current", json={"version": 1}, headers=auth)
    assert resp.status_code == 200
    assert resp.get_json() == {"name": "diabetes", "current_version": 1, "previous": 2}
    assert client.post("/predict", json=ROW).get_json()["version"] == 1
    resp = client.put("/models/diabetes/current", json={"version": 2}, headers=auth)
    assert client.post("/predict", json=ROW).get_json()["version"] == 2
    assert (
        client.put("/models/diabetes/current", json={"version": 9}, headers=auth).status_code == 404
    )
    assert (
        client.put("/models/nosuch/current", json={"version": 1}, headers=auth).status_code == 404
    )
    wrong = {"Authorization": "Bearer nope"}
    assert (
        client.put("/models/diabetes/current", json={"version": 1}, headers=wrong).status_code
        == 401
    )
    bad = client.put("/models/diabetes/current", json={"version": "1"}, headers=auth)
    assert bad.status_code == 422 and bad.get_json()["details"][0]["loc"] == ["version"]


def test_admin_endpoints_disabled_without_token(settings_dict):
    app = create_app({**settings_dict, "admin_token": None})
    resp = app.test_client().put("/models/diabetes/current", json={"version": 1})
    assert resp.status_code == 503 and "NNS_ADMIN_TOKEN" in resp.get_json()["error"]


def served(client) -> int:
    return client.post("/predict", json=ROW).get_json()["version"]


def load_failures(client) -> float:
    """Return the process's count of diabetes versions that failed to load (shared by tests)."""
    text = client.get("/metrics").get_data(as_text=True)
    found = re.search(r'^nns_model_load_failures_total\{model="diabetes"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_hot_reload_and_refusal_of_a_corrupt_version(app, client, store):
    train(store, epochs=50, seed=5)
    wait_until(lambda: served(client) == 2, 10, what="the watcher to load version 2")
    # Version 3 is published and then damaged on disk: it must be refused, 2 keeps serving.
    failures = load_failures(client)
    promote_rotten(store, seed=6)
    wait_until(lambda: "diabetes" in app.extensions["nns.registry"].errors, 10, what="refusal")
    assert served(client) == 2
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.get_json()["status"] == "degraded"
    assert "version 3" in ready.get_json()["problems"][0]
    assert "version 3" in client.get("/models/diabetes").get_json()["load_error"]
    assert load_failures(client) == failures + 1  # counters are per process, not per app


def test_fresh_app_falls_back_to_newest_loadable_version(settings_dict, store):
    train(store, epochs=50)
    (store.root / "diabetes" / "2" / "model.json").write_text("{}")
    app = create_app(settings_dict)
    client = app.test_client()
    assert client.post("/predict", json=ROW).get_json()["version"] == 1
    assert client.get("/health/ready").get_json()["status"] == "degraded"


def test_fresh_app_falls_back_to_the_last_promoted_version_not_an_unpromoted_one(
    settings_dict, store
):
    train(store, epochs=50)  # v2, promoted
    params = Hyperparameters(epochs=50)
    train_model(
        TrainSpec(model="diabetes", hyperparameters=params, promote=False),
        datasets.diabetes(),
        store,
    )  # v3, loadable
    train(store, epochs=50)  # v4, promoted, then damaged
    (store.root / "diabetes" / "4" / "weights.npz").write_bytes(b"garbage")
    client = create_app(settings_dict).test_client()
    assert client.post("/predict", json=ROW).get_json()["version"] == 2
    ready = client.get("/health/ready").get_json()
    assert ready["status"] == "degraded" and "version 4" in ready["problems"][0]


def test_unexpected_error_is_500_without_internals(app, client, monkeypatch, caplog):
    predictor = app.extensions["nns.registry"].get("diabetes")

    def boom(X):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(predictor, "predictions", boom)
    resp = client.post("/predict", json=ROW)
    assert resp.status_code == 500
    body = resp.get_json()
    assert body["code"] == "internal_error" and "secret" not in resp.get_data(as_text=True)


def test_request_id_is_taken_or_generated(client):
    resp = client.get("/health/live", headers={"X-Request-ID": "req-42"})
    assert resp.headers["X-Request-ID"] == "req-42"
    generated = client.get("/health/live", headers={"X-Request-ID": "bad id!"})
    assert generated.headers["X-Request-ID"] != "bad id!"
    assert len(generated.headers["X-Request-ID"]) == 32


def test_metrics_count_requests_and_predictions(client):
    client.post("/predict", json={"instances": [ROW, ROW, ROW]})
    client.post("/predict", json={"smoking": 5})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'nns_predictions_total{model="diabetes",version="1"}' in text
    assert 'endpoint="/predict",method="POST",status="422"' in text
    assert "nns_http_request_duration_seconds_bucket" in text


def test_openapi_is_valid_and_has_each_models_schema(client):
    doc = client.get("/openapi.json").get_json()
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert "diabetes.PredictRequest" in schemas and "moons.PredictRequest" in schemas
    row = schemas["DiabetesRow"]
    assert row["additionalProperties"] is False
    assert row["properties"]["smoking"]["maximum"] == 1
    for path in ("/predict", "/models/{name}/predict", "/health/ready", "/metrics"):
        assert path in doc["paths"]


def test_docs_page_is_served_locally(client):
    resp = client.get("/docs")
    assert resp.status_code == 200 and b"/openapi.json" in resp.data
    assert b"http://" not in resp.data and b"https://" not in resp.data  # no CDN


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "application/json"])
def test_json_content_type_with_charset(client, ctype):
    resp = client.post(
        "/predict", data=b'{"smoking":0,"obesity":1,"exercise":0}', content_type=ctype
    )
    assert resp.status_code == 200
