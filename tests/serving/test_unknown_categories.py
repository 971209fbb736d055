"""A category never seen in training does not sink a batch: on real data (MASS Cars93), the rows
with a manufacturer the model never saw are scored at the training average, each with a warning
naming the field and the value; `strict` (a query parameter, or NNS_STRICT_CATEGORIES) refuses
them as before; a structural error still refuses the request with its location."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from model_store import ModelStore
from service.data.csvfile import read_csv_bytes
from service.serving.predictor import Predictor
from service.training.pipeline import train_model
from service.training.spec import Hyperparameters, TrainSpec
from service.web.app import create_app
from tests.support.pypi_files import PUBLIC, read_member

FEATURES = ["Manufacturer", "Price", "Horsepower", "AirBags"]


@pytest.fixture(scope="module")
def cars93(tmp_path_factory):
    """Train Type on every other row of Cars93; return the store and the other rows."""
    text = read_member(PUBLIC["cars93"]).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    train, test = rows[::2], rows[1::2]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*FEATURES, "Type"])
    writer.writerows([[r[c] for c in [*FEATURES, "Type"]] for r in train])
    store = ModelStore(tmp_path_factory.mktemp("cars93") / "models")
    data = read_csv_bytes(out.getvalue().encode(), "Type")
    params = Hyperparameters(epochs=30, hidden=[8])
    train_model(TrainSpec(model="cars", hyperparameters=params, promote="always"), data, store)
    seen = {r["Manufacturer"] for r in train}
    instances = [
        {"Manufacturer": r["Manufacturer"], "Price": float(r["Price"]),
         "Horsepower": float(r["Horsepower"]),
         "AirBags": None if r["AirBags"] == "None" else r["AirBags"]}  # read as missing
        for r in test
    ]  # fmt: skip
    unseen = [i for i, r in enumerate(test) if r["Manufacturer"] not in seen]
    assert len(instances) == 46 and unseen  # the real split has manufacturers training lacked
    return store, instances, unseen


def client(store, tmp_path, **settings):
    return create_app({"data_dir": tmp_path, "model_store": store.root, **settings}).test_client()


def test_one_unseen_category_does_not_sink_the_batch(cars93, tmp_path):
    store, instances, unseen = cars93
    resp = client(store, tmp_path).post("/models/cars/predict", json={"instances": instances})
    assert resp.status_code == 200, resp.get_json()
    predictions = resp.get_json()["predictions"]
    assert len(predictions) == 46
    for i, p in enumerate(predictions):
        if i in unseen:
            value = instances[i]["Manufacturer"]
            assert p["warnings"] == [
                f"Manufacturer: {value!r} was not seen in training; scored as an unknown "
                "category (the training average)"
            ]
        else:
            assert "warnings" not in p
    # Scored at the training average: the network sees 0 in every Manufacturer column.
    model = Predictor(store.load("cars"), 100)
    X, _, _ = model.parse(json.dumps({"instances": instances}).encode())
    scaled = model.scaler.transform(X)
    width = len(model.meta.features[0].values)
    assert np.allclose(scaled[unseen, :width], 0.0)


def test_strict_refuses_the_batch_as_before(cars93, tmp_path):
    store, instances, unseen = cars93
    body = {"instances": instances}
    for app, query in [(client(store, tmp_path), "?strict=true"),
                       (client(store, tmp_path, strict_categories=True), "")]:  # fmt: skip
        resp = app.post(f"/models/cars/predict{query}", json=body)
        assert resp.status_code == 422
        locs = [d["loc"] for d in resp.get_json()["details"]]
        assert locs == [["instances", i, "Manufacturer"] for i in unseen]
    resp = client(store, tmp_path, strict_categories=True).post(
        "/models/cars/predict?strict=false", json=body
    )
    assert resp.status_code == 200


def test_structural_errors_still_refuse_with_their_location(cars93, tmp_path):
    store, instances, _ = cars93
    app = client(store, tmp_path)
    wrong_type = [dict(instances[0], Manufacturer=3)] + instances[1:]
    missing = [{k: v for k, v in instances[0].items() if k != "Price"}] + instances[1:]
    for rows, loc in [(wrong_type, ["instances", 0, "Manufacturer"]),
                      (missing, ["instances", 0, "Price"])]:  # fmt: skip
        resp = app.post("/models/cars/predict", json={"instances": rows})
        assert resp.status_code == 422 and resp.get_json()["details"][0]["loc"] == loc
    assert app.post("/models/cars/predict?strict=maybe", json=instances[0]).status_code == 422
