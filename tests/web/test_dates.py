"""A model with an ISO date feature, trained on real data (ISLP's NYSE trading days): requests
send the date as the same text, to /predict and to V2 as BYTES, and get the same answers."""

from __future__ import annotations

import pytest

from model_store import ModelStore
from service.data.csvfile import read_csv_text
from service.training.pipeline import train_model
from service.training.spec import Hyperparameters, TrainSpec
from service.web.app import create_app
from tests.support import pypi_files
from tests.support.pypi_files import Source

NYSE = Source(
    *pypi_files.ISLP,
    "ISLP/data/NYSE.csv",
    "4bb3e2e9872b2f7e6e8701afb8873cd9f4b7e66ee0b1ba62c116ff2b3a2eec60",
    pypi_files.ISLP_LICENSE,
)
ROWS = [
    {"date": "1987-01-02", "day_of_week": "fri", "DJ_return": 0.01, "log_volatility": -11.0},
    {"date": "1987-01-05T15:30:00Z", "day_of_week": "mon", "DJ_return": 0, "log_volatility": -9},
]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("dates")
    store = ModelStore(root / "models")
    text = pypi_files.read_member(NYSE).decode("utf-8")
    data = read_csv_text(text, "log_volume", exclude=("train",))
    params = Hyperparameters(hidden=[8], epochs=5, learning_rate=0.01)
    train_model(TrainSpec(model="nyse", hyperparameters=params, promote="always"), data, store)
    app = create_app({"data_dir": root, "model_store": store.root, "max_batch": 50})
    return app.test_client()


def test_the_card_names_the_date_feature(client):
    card = client.get("/models/nyse").get_json()
    date = card["features"][0]
    assert (date["name"], date["type"]) == ("date", "date")


def test_json_and_v2_bytes_take_the_date_as_text_and_agree(client):
    resp = client.post("/models/nyse/predict", json={"instances": ROWS})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    want = [p["prediction"] for p in resp.get_json()["predictions"]]
    columns = {name: [row[name] for row in ROWS] for name in ROWS[0]}
    inputs = [
        {"name": "date", "shape": [2], "datatype": "BYTES", "data": columns["date"]},
        {"name": "day_of_week", "shape": [2], "datatype": "BYTES", "data": columns["day_of_week"]},
        {"name": "DJ_return", "shape": [2], "datatype": "FP64", "data": columns["DJ_return"]},
        {"name": "log_volatility", "shape": [2], "datatype": "FP64",
         "data": columns["log_volatility"]},
    ]  # fmt: skip
    v2 = client.post("/v2/models/nyse/infer", json={"inputs": inputs})
    assert v2.status_code == 200, v2.get_data(as_text=True)
    got = v2.get_json()["outputs"][0]["data"]
    assert got == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("value", ["02/01/1987", "1987-02-30", "", 1987])
def test_a_value_that_is_not_an_iso_date_is_422_without_echo(client, value):
    resp = client.post("/models/nyse/predict", json={**ROWS[0], "date": value})
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["details"][0]["loc"] == ["date"]
    assert "1987" not in body["error"] + str(body["details"])
    inputs = [
        {"name": "date", "shape": [1], "datatype": "BYTES", "data": [str(value)]},
        {"name": "day_of_week", "shape": [1], "datatype": "BYTES", "data": ["fri"]},
        {"name": "DJ_return", "shape": [1], "datatype": "FP64", "data": [0.0]},
        {"name": "log_volatility", "shape": [1], "datatype": "FP64", "data": [-11.0]},
    ]
    v2 = client.post("/v2/models/nyse/infer", json={"inputs": inputs})
    assert v2.status_code == 400 and "ISO-8601" in v2.get_json()["error"]


def test_the_openapi_document_describes_the_date_as_iso_text(client):
    doc = client.get("/openapi.json").get_json()
    text = str(doc)
    assert "date feature (YYYY-MM-DD" in text and "\\\\d{4}-\\\\d{2}-\\\\d{2}" in text
