"""The real tritonclient HTTP client against real gunicorn: V2 health, metadata and infer."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from model_store import ModelStore
from tests.support.harness import Gunicorn, http, train_cli
from tests.support.training import ROWS, penguins_csv, train

pytestmark = pytest.mark.process

DIABETES = ["smoking", "obesity", "exercise"]
INPUTS = np.array([[row[f] for f in DIABETES] for row in ROWS], dtype=np.float32)  # all 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("v2")
    store = ModelStore(root / "models")
    train(store)
    train(store, epochs=200, seed=2)  # diabetes v2 is current
    train(store, "moons", "moons", hidden=[8], epochs=200)
    csv = root / "penguins.csv"
    csv.write_text(penguins_csv())
    small = ("--data", str(csv), "--hidden", "8", "--epochs", "40")
    train_cli(root / "models", *small, "--model", "penguins", "--target", "species",
              "--exclude", "big,mass")  # fmt: skip
    train_cli(root / "models", *small, "--model", "big", "--target", "big",
              "--exclude", "species,mass")  # fmt: skip
    srv = Gunicorn(root, root / "gunicorn.log", workers=2)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(server):
    triton = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    yield triton
    triton.close()


def features(X: np.ndarray, binary: bool) -> list[httpclient.InferInput]:
    inp = httpclient.InferInput("features", list(X.shape), "FP32" if X.dtype == "f4" else "FP64")
    inp.set_data_from_numpy(X, binary_data=binary)
    return [inp]


def predict(server, X: np.ndarray, names: list[str], path: str = "/predict") -> list[dict]:
    # /predict takes binary features as JSON integers only.
    rows = X.astype(int).tolist() if names == DIABETES else X.tolist()
    instances = [dict(zip(names, row, strict=True)) for row in rows]
    status, _, body = http("POST", server.url + path, {"instances": instances})
    assert status == 200
    return body["predictions"]


def test_health_and_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("diabetes") and client.is_model_ready("diabetes", "1")
    assert not client.is_model_ready("nope") and not client.is_model_ready("diabetes", "9")
    meta = client.get_server_metadata()
    assert meta["name"] == "nn-service" and "binary_tensor_data" in meta["extensions"]
    model = client.get_model_metadata("diabetes")
    assert model["versions"] == ["1", "2"] and model["properties"]["version"] == "2"
    assert model["inputs"] == [{"name": "features", "datatype": "FP64", "shape": [-1, 3]}]
    assert [o["name"] for o in model["outputs"]] == ["probability", "label"]
    assert client.get_model_metadata("diabetes", "1")["properties"]["version"] == "1"


@pytest.mark.parametrize("binary_in", [True, False], ids=["binary-in", "json-in"])
@pytest.mark.parametrize("binary_out", [True, False], ids=["binary-out", "json-out"])
def test_infer_equals_predict_for_batches_and_single_rows(server, client, binary_in, binary_out):
    want = predict(server, INPUTS, DIABETES)
    outputs = [
        httpclient.InferRequestedOutput(n, binary_data=binary_out) for n in ("probability", "label")
    ]
    res = client.infer("diabetes", features(INPUTS, binary_in), outputs=outputs, request_id="r1")
    assert res.get_response()["model_version"] == "2" and res.get_response()["id"] == "r1"
    assert res.as_numpy("label").tolist() == [p["label"] for p in want]
    assert res.as_numpy("probability")[:, 0].tolist() == [
        np.float32(p["probability"]) for p in want
    ]
    single = client.infer("diabetes", features(INPUTS[3:4], binary_in), outputs=outputs)
    assert single.as_numpy("probability").shape == (1, 1)
    assert single.as_numpy("label").tolist() == [want[3]["label"]]


def test_pinned_version_and_selected_outputs(server, client):
    want = predict(server, INPUTS, DIABETES, "/models/diabetes/versions/1/predict")
    label = [httpclient.InferRequestedOutput("label", binary_data=False)]
    res = client.infer("diabetes", features(INPUTS, True), model_version="1", outputs=label)
    assert res.get_response()["model_version"] == "1"
    assert res.as_numpy("probability") is None
    assert res.as_numpy("label").tolist() == [p["label"] for p in want]
    res = client.infer("diabetes", features(INPUTS, False), model_version="1")  # all outputs
    assert res.as_numpy("probability")[:, 0].tolist() == [
        np.float32(p["probability"]) for p in want
    ]


def test_numeric_model_with_one_tensor_per_feature(server, client):
    X = np.random.default_rng(5).normal(size=(1000, 2))
    want = predict(server, X, ["x1", "x2"], "/models/moons/predict")
    inputs = []
    for j, name in enumerate(["x1", "x2"]):
        inputs.append(httpclient.InferInput(name, [1000, 1], "FP64"))
        inputs[-1].set_data_from_numpy(X[:, j : j + 1].copy(), binary_data=True)
    res = client.infer("moons", inputs)
    assert res.as_numpy("probability")[:, 0].tolist() == [
        np.float32(p["probability"]) for p in want
    ]
    assert res.as_numpy("label").tolist() == [p["label"] for p in want]


def _error(client, model: str, inputs, **kw) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as info:
        client.infer(model, inputs, **kw)
    return info.value


def test_errors_reach_the_client_with_our_message(client):
    err = _error(client, "nope", features(INPUTS, True))
    assert err.status() == "404" and "model 'nope' not found" in err.message()
    err = _error(client, "diabetes", features(INPUTS, True), model_version="9")
    assert err.status() == "404" and "no version 9" in err.message()
    err = _error(client, "diabetes", features(np.zeros((2, 4), np.float32), True))
    assert err.status() == "400" and "must have shape [N, 3]" in err.message()
    half = httpclient.InferInput("features", [1, 3], "FP16")
    half.set_data_from_numpy(np.zeros((1, 3), np.float16))
    err = _error(client, "diabetes", [half])
    assert err.status() == "400" and "inputs.0.datatype: Input should be" in err.message()
    err = _error(client, "diabetes", features(np.array([[0, 2, 0]], np.float32), False))
    assert err.status() == "400" and "accepts only 0 and 1" in err.message()
    bad = [httpclient.InferRequestedOutput("logits")]
    err = _error(client, "diabetes", features(INPUTS, True), outputs=bad)
    assert err.status() == "400" and "is not an output of this model" in err.message()


# --- text features and labels: BYTES both ways ----------------------------------------------------
PENGUINS = [
    {"island": "Biscoe", "sex": "female", "bill": 38.2, "diet": "fish"},
    {"island": "Dream", "sex": "male", "bill": None, "diet": "krill"},
    {"island": "Torgersen", "sex": "female", "bill": 48.9, "diet": None},
    {"island": "Dream", "sex": "male", "bill": 43.0, "diet": "fish"},
]


def penguin_inputs(binary: bool, rows: list[dict] = PENGUINS) -> list[httpclient.InferInput]:
    """One tensor per feature: BYTES for text (the empty string is missing), FP64 with NaN."""
    inputs = []
    for name in ("island", "sex", "bill", "diet"):
        if name == "bill":
            values = np.array([np.nan if r[name] is None else r[name] for r in rows], np.float64)
            inp = httpclient.InferInput(name, [len(rows)], "FP64")
        else:
            values = np.array(["" if r[name] is None else r[name] for r in rows], dtype=object)
            inp = httpclient.InferInput(name, [len(rows)], "BYTES")
        inputs.append(inp.set_data_from_numpy(values, binary_data=binary))
    return inputs


def test_text_model_metadata(client):
    model = client.get_model_metadata("penguins")
    assert [(i["name"], i["datatype"], i["shape"]) for i in model["inputs"]] == [
        ("island", "BYTES", [-1]),
        ("sex", "BYTES", [-1]),
        ("bill", "FP64", [-1]),
        ("diet", "BYTES", [-1]),
    ]
    assert model["outputs"][1] == {"name": "label", "datatype": "BYTES", "shape": [-1]}
    assert client.get_model_metadata("big")["properties"]["positive_class"] == "Yes"


@pytest.mark.parametrize("binary_in", [True, False], ids=["binary-in", "json-in"])
@pytest.mark.parametrize("binary_out", [True, False], ids=["binary-out", "json-out"])
@pytest.mark.parametrize("model", ["penguins", "big"])
def test_bytes_inputs_and_labels_equal_predict(server, client, model, binary_in, binary_out):
    status, _, body = http("POST", f"{server.url}/models/{model}/predict", {"instances": PENGUINS})
    assert status == 200
    want = body["predictions"]
    outputs = [
        httpclient.InferRequestedOutput(n, binary_data=binary_out) for n in ("probability", "label")
    ]
    res = client.infer(model, penguin_inputs(binary_in), outputs=outputs)
    labels = res.as_numpy("label")
    assert labels.dtype == object and labels.shape == (len(PENGUINS),)
    # tritonclient gives bytes for binary BYTES outputs and str for JSON ones.
    assert [v.decode() if binary_out else v for v in labels] == [p["label"] for p in want]
    probability = res.as_numpy("probability")
    key = "probability" if model == "big" else "probabilities"
    expected = np.float32([p[key] for p in want]).reshape(probability.shape)
    assert probability.tolist() == expected.tolist()


def test_unknown_category_reaches_the_client_naming_the_allowed_values(client):
    rows = [{**PENGUINS[0], "island": "Atlantis"}]
    result = client.infer("penguins", penguin_inputs(True, rows))  # scored as unknown, said so
    warnings = result.get_response()["parameters"]["warnings"]
    assert warnings == [
        "row 0: island: 'Atlantis' was not seen in training; scored as an unknown category "
        "(the training average)"
    ]
    err = _error(client, "penguins", penguin_inputs(True, rows), parameters={"strict": True})
    assert err.status() == "400"
    assert "feature 'island': row 0 is not one of its values" in err.message()
    assert "'Biscoe', 'Dream', 'Torgersen'" in err.message() and "Atlantis" not in err.message()
    numbers = httpclient.InferInput("island", [1], "FP32")
    numbers.set_data_from_numpy(np.zeros(1, np.float32))
    err = _error(client, "penguins", [numbers, *penguin_inputs(False, rows)[1:]])
    assert err.status() == "400" and "feature 'island' is categorical: send BYTES" in err.message()
