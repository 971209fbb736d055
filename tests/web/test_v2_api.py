"""Open Inference Protocol V2 through Flask's test client: tensors in, tensors out, clear 400s."""

from __future__ import annotations

import itertools
import re

import numpy as np
import orjson
import pytest
import tritonclient.http as httpclient

from model_store import ModelStore
from service.data.csvfile import read_csv_text
from service.training.pipeline import train_model
from service.training.spec import Hyperparameters, TrainSpec
from service.web.app import create_app
from tests.support.training import train

HEADER = "Inference-Header-Content-Length"
DIABETES = ["smoking", "obesity", "exercise"]
ALL_ROWS = [list(r) for r in itertools.product((0, 1), repeat=3)]


def tensor(name: str, shape: list, datatype: str, data=None, **params) -> dict:
    out: dict = {"name": name, "shape": shape, "datatype": datatype}
    if data is not None:
        out["data"] = data
    if params:
        out["parameters"] = params
    return out


def post(client, body, headers: dict | None = None, *, model: str = "diabetes", **kw):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(f"/v2/models/{model}/infer", data=data, headers=headers or {}, **kw)


def with_binary(header: dict, *arrays: np.ndarray) -> tuple[bytes, dict]:
    """Return a binary-extension body: the JSON header, then each array's bytes."""
    head = orjson.dumps(header)
    return head + b"".join(a.tobytes() for a in arrays), {HEADER: str(len(head))}


def result(resp) -> httpclient.InferResult:
    """Decode a 200 response the way tritonclient does, JSON or binary outputs alike."""
    assert resp.status_code == 200, resp.get_data(as_text=True)
    length = resp.headers.get(HEADER)
    return httpclient.InferResult.from_response_body(
        resp.data, header_length=int(length) if length else None
    )


def predict(client, rows: list[list], features: list[str], model: str = "diabetes") -> list[dict]:
    instances = [dict(zip(features, r, strict=True)) for r in rows]
    resp = client.post(f"/models/{model}/predict", json={"instances": instances})
    assert resp.status_code == 200
    return resp.get_json()["predictions"]


def predictions_count(client) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    found = re.findall(r'nns_predictions_total\{model="diabetes",version="1"\} ([0-9.e+]+)', text)
    return float(found[0]) if found else 0.0


@pytest.fixture(scope="module")
def v2_app(tmp_path_factory):
    """One app for the module: training a store per test would dominate the runtime."""
    root = tmp_path_factory.mktemp("v2")
    store = ModelStore(root / "models")
    train(store)
    train(store, "moons", "moons", hidden=[8], epochs=200)
    return create_app({"data_dir": root, "model_store": store.root, "max_batch": 50})


@pytest.fixture
def client(v2_app):
    return v2_app.test_client()


# --- health and metadata ------------------------------------------------------------------------
def test_server_metadata_health_and_model_ready(client):
    meta = client.get("/v2").get_json()
    assert meta["name"] == "nn-service" and meta["extensions"] == ["binary_tensor_data"]
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/v2/health/ready").get_json() == {"live": True, "ready": True}
    assert client.get("/v2/models/moons/ready").get_json() == {"name": "moons", "ready": True}
    assert client.get("/v2/models/moons/versions/1/ready").status_code == 200


def test_server_not_ready_without_the_default_model(tmp_path):
    app = create_app({"data_dir": tmp_path, "model_store": tmp_path / "empty"})
    resp = app.test_client().get("/v2/health/ready")
    # The protocol's not-ready is a 4xx; /health/ready keeps 503 for Kubernetes.
    assert resp.status_code == 400 and resp.get_json()["ready"] is False
    assert app.test_client().get("/health/ready").status_code == 503


def test_model_metadata_lists_features_outputs_and_versions(client):
    meta = client.get("/v2/models/diabetes").get_json()
    assert meta["name"] == "diabetes" and meta["versions"] == ["1"]
    assert meta["platform"] == "numpy-mlp"
    assert meta["inputs"] == [{"name": "features", "datatype": "FP64", "shape": [-1, 3]}]
    assert meta["outputs"] == [
        {"name": "probability", "datatype": "FP32", "shape": [-1, 1]},
        {"name": "label", "datatype": "INT64", "shape": [-1]},
    ]
    assert meta["properties"]["features"] == "smoking,obesity,exercise"
    assert client.get("/v2/models/diabetes/versions/1").get_json() == meta


@pytest.mark.parametrize(
    "path",
    [
        "/v2/models/nope",
        "/v2/models/nope/ready",
        "/v2/models/diabetes/versions/9",
        "/v2/models/diabetes/versions/v1/ready",
        "/v2/models/Bad..Name",
    ],
)
def test_unknown_models_and_versions_are_404(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    body = resp.get_json()
    assert body["code"] == "not_found" and body["error"] and body["request_id"]


def test_infer_unknown_model_and_version_are_404(client):
    body = {"inputs": [tensor("features", [1, 3], "FP64", [0, 1, 0])]}
    assert post(client, body, model="nope").status_code == 404
    resp = client.post("/v2/models/diabetes/versions/3/infer", data=orjson.dumps(body))
    assert resp.status_code == 404 and "version 3" in resp.get_json()["error"]


# --- predictions equal /predict -----------------------------------------------------------------
def test_json_and_binary_infer_equal_predict_for_every_diabetes_row(client):
    want = predict(client, ALL_ROWS, DIABETES)
    X = np.array(ALL_ROWS, dtype="<f4")
    body = {"id": "req-7", "inputs": [tensor("features", [8, 3], "FP32", X.tolist())]}
    as_json = result(post(client, body))
    header = {
        "inputs": [tensor("features", [8, 3], "FP32", binary_data_size=X.nbytes)],
        "parameters": {"binary_data_output": True},
    }
    as_binary = result(post(client, *with_binary(header, X)))
    for res in (as_json, as_binary):
        assert res.get_response()["model_version"] == "1"
        assert res.as_numpy("probability").dtype == np.float32
        assert res.as_numpy("probability").shape == (8, 1)
        assert res.as_numpy("label").tolist() == [p["label"] for p in want]
        expected = np.float32([p["probability"] for p in want])
        assert res.as_numpy("probability")[:, 0].tolist() == expected.tolist()
    assert as_json.get_response()["id"] == "req-7"
    assert "id" not in as_binary.get_response()


def test_numeric_model_equals_predict_and_counts_predictions(client):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 2))
    want = predict(client, X.tolist(), ["x1", "x2"], model="moons")
    header = {"inputs": [tensor("features", [20, 2], "FP64", binary_data_size=X.nbytes)]}
    res = result(post(client, *with_binary(header, X), model="moons"))
    assert (
        res.as_numpy("probability")[:, 0].tolist()
        == np.float32([p["probability"] for p in want]).tolist()
    )
    assert res.as_numpy("label").tolist() == [p["label"] for p in want]
    before = predictions_count(client)
    post(client, {"inputs": [tensor("features", [8, 3], "INT64", ALL_ROWS)]})
    assert predictions_count(client) == before + 8


CLASSES_CSV = (
    "a,b,kind\n"
    + "".join(
        f"{a},{b},{k}\n" for a, b, k in [(0, 0, 2), (0.1, 0.2, 2), (1, 1, 5), (1.1, 0.9, 5)] * 3
    )
    + "".join(f"{a},{b},7\n" for a, b in [(2, -1), (2.2, -1.1), (1.9, -0.8)] * 2)
)


def test_multiclass_and_regression_models_equal_predict(tmp_path, settings_dict, store):
    params = dict(hidden=[6], epochs=60, learning_rate=0.05)
    data = read_csv_text(CLASSES_CSV, "kind")
    train_model(
        TrainSpec(
            model="kinds", hyperparameters=Hyperparameters(loss="cce", **params), promote="always"
        ),
        data,
        store,
    )
    train_model(
        TrainSpec(
            model="amount", hyperparameters=Hyperparameters(loss="mse", **params), promote="always"
        ),
        data,
        store,
    )
    client = create_app(settings_dict).test_client()
    rows = [[0.05, 0.1], [1.0, 1.0], [2.1, -1.0], [0.5, 0.5]]
    classes = predict(client, rows, ["a", "b"], model="kinds")
    res = result(
        post(client, {"inputs": [tensor("features", [4, 2], "FP64", rows)]}, model="kinds")
    )
    assert res.as_numpy("label").tolist() == [p["label"] for p in classes]
    assert set(res.as_numpy("label").tolist()) <= {2, 5, 7}
    assert res.as_numpy("probability").shape == (4, 3)
    assert (
        res.as_numpy("probability").tolist()
        == np.float32([p["probabilities"] for p in classes]).tolist()
    )
    amounts = predict(client, rows, ["a", "b"], model="amount")
    columns = [tensor(name, [4], "FP64", [r[j] for r in rows]) for j, name in enumerate("ab")]
    body = {"inputs": columns}
    res = result(post(client, body, model="amount"))
    assert res.as_numpy("prediction").dtype == np.float64
    assert res.as_numpy("prediction")[:, 0].tolist() == [p["prediction"] for p in amounts]
    meta = client.get("/v2/models/kinds").get_json()
    assert meta["outputs"][0] == {"name": "probability", "datatype": "FP32", "shape": [-1, 3]}
    meta = client.get("/v2/models/amount").get_json()
    assert meta["outputs"] == [{"name": "prediction", "datatype": "FP64", "shape": [-1, 1]}]


# --- tensor layouts that all mean the same rows -------------------------------------------------
ROWS = [[0, 1, 0], [1, 1, 1], [1, 0, 0]]
COLUMNS = [[r[j] for r in ROWS] for j in range(3)]
SAME_ROWS = {
    "flat FP64": [tensor("features", [3, 3], "FP64", sum(ROWS, []))],
    "nested INT32": [tensor("features", [3, 3], "INT32", ROWS)],
    "BOOL matrix": [tensor("features", [3, 3], "BOOL", [[bool(v) for v in r] for r in ROWS])],
    "true and false as 1 and 0 in FP64": [
        tensor("features", [3, 3], "FP64", [[bool(v) for v in r] for r in ROWS])
    ],
    "per feature [N]": [tensor(n, [3], "FP32", c) for n, c in zip(DIABETES, COLUMNS, strict=True)],
    "per feature [N, 1] nested": [
        tensor(n, [3, 1], "INT64", [[v] for v in c]) for n, c in zip(DIABETES, COLUMNS, strict=True)
    ],
    "mixed datatypes, any order": [
        tensor("exercise", [3, 1], "UINT8", COLUMNS[2]),
        tensor("smoking", [3], "BOOL", [bool(v) for v in COLUMNS[0]]),
        tensor("obesity", [3], "INT16", COLUMNS[1]),
    ],
}


@pytest.mark.parametrize("inputs", SAME_ROWS.values(), ids=SAME_ROWS.keys())
def test_every_layout_gives_the_predict_answer(client, inputs):
    want = predict(client, ROWS, DIABETES)
    res = result(post(client, {"inputs": inputs}))
    assert res.as_numpy("label").tolist() == [p["label"] for p in want]
    assert (
        res.as_numpy("probability")[:, 0].tolist()
        == np.float32([p["probability"] for p in want]).tolist()
    )


def test_binary_per_feature_tensors_of_mixed_datatypes(client):
    want = predict(client, ROWS, DIABETES)
    cols = [np.array(COLUMNS[0], "u1"), np.array(COLUMNS[1], "<i8"), np.array(COLUMNS[2], "<f8")]
    types = ["BOOL", "INT64", "FP64"]
    inputs = [
        tensor(n, [3], t, binary_data_size=c.nbytes)
        for n, t, c in zip(DIABETES, types, cols, strict=True)
    ]
    res = result(post(client, *with_binary({"inputs": inputs}, *cols)))
    assert res.as_numpy("label").tolist() == [p["label"] for p in want]


def test_selected_outputs_binary_per_output_and_echoed_id(client):
    X = np.array(ROWS, dtype="<f8")
    header = {
        "id": "abc",
        "inputs": [tensor("features", [3, 3], "FP64", binary_data_size=X.nbytes)],
        "outputs": [{"name": "label", "parameters": {"binary_data": True}}],
        "parameters": {"binary_data_output": False},
    }
    resp = post(client, *with_binary(header, X))
    assert resp.mimetype == "application/octet-stream"
    res = result(resp)
    assert [o["name"] for o in res.get_response()["outputs"]] == ["label"]
    assert res.as_numpy("probability") is None and res.as_numpy("label").dtype == np.int64
    assert res.get_response()["id"] == "abc"
    body = {"inputs": [tensor("features", [3, 3], "FP64", ROWS)], "outputs": [{"name": "label"}]}
    resp = post(client, body)
    assert resp.mimetype == "application/json" and HEADER not in resp.headers
    assert resp.get_json()["outputs"] == [
        {"name": "label", "datatype": "INT64", "shape": [3], "data": [1, 1, 0]}
    ]


# --- bad requests: 400 with a message that says which -------------------------------------------
def matrix(data, shape=(1, 3), datatype="FP64") -> dict:
    return {"inputs": [tensor("features", list(shape), datatype, data)]}


F64 = np.array([[0, 1, 0]], dtype="<f8")
BIN = {"inputs": [tensor("features", [1, 3], "FP64", binary_data_size=24)]}
BAD = {
    "wrong length": (matrix([0, 1, 0, 1], (1, 3)), "data has 4 values but shape [1, 3] needs 3"),
    "wrong rank": (matrix([0, 1, 0], (3,)), "must have shape [N, 3]"),
    "wrong width": (matrix([0, 1], (1, 2)), "must have shape [N, 3]"),
    "nested disagrees with shape": (matrix([[0], [1], [0]]), "nested data has shape [3, 1]"),
    "ragged nested": (matrix([[0, 1], [0]], (1, 3)), "ragged"),
    "strings for FP64": (matrix(["0", "1", "0"]), "FP64 data must hold numbers"),
    "floats for INT32": (matrix([0, 1.5, 0], datatype="INT32"), "INT32 data must hold integers"),
    "numbers for BOOL": (matrix([0, 1, 0], datatype="BOOL"), "BOOL data must hold true or false"),
    "UINT8 out of range": (matrix([0, 1, 300], datatype="UINT8"), "out of range for UINT8"),
    "INT64 out of range": (
        matrix([0, 1, 2**63], datatype="INT64"),
        "INT64 data must hold integers in its range",
    ),
    "FP16 unsupported": (matrix([0, 1, 0], datatype="FP16"), "inputs.0.datatype: Input should be"),
    "missing feature": (
        {"inputs": [tensor("smoking", [1], "FP32", [0]), tensor("obesity", [1], "FP32", [1])]},
        "missing input for feature exercise",
    ),
    "unknown input name": (
        {
            "inputs": [
                tensor("features", [1, 3], "FP64", [0, 1, 0]),
                tensor("zz9", [1], "FP64", [1]),
            ]
        },
        "input 1 is not an input of this model",
    ),
    "duplicate input": (
        {"inputs": [tensor("smoking", [1], "BOOL", [True])] * 2},
        "input 'smoking' is given more than once",
    ),
    "matrix and per-feature mixed": (
        {
            "inputs": [
                tensor("features", [1, 3], "FP64", [0, 1, 0]),
                tensor("smoking", [1], "FP64", [1]),
            ]
        },
        "not both",
    ),
    "batch sizes disagree": (
        {
            "inputs": [
                tensor("smoking", [1], "FP64", [0]),
                tensor("obesity", [1], "FP64", [0]),
                tensor("exercise", [2], "FP64", [0, 1]),
            ]
        },
        "inputs disagree on the batch size: 'exercise' has 2 rows, 'smoking' has 1",
    ),
    "per-feature [N, 2]": (
        {"inputs": [tensor(n, [1, 2], "FP64", [0, 1]) for n in DIABETES]},
        "must have shape [N] or [N, 1]",
    ),
    "empty batch": (matrix([], (0, 3)), "the batch is empty"),
    "over max_batch": (matrix([0] * 153, (51, 3)), "a batch of 51 rows is over the limit of 50"),
    "NaN": (
        b'{"inputs":[{"name":"features","shape":[1,3],"datatype":"FP64","data":[0,NaN,0]}]}',
        "feature 'obesity' (column 1 of 'features') must be finite",
    ),
    "FP64 too big for FP32": (matrix([0, 1e300, 0], datatype="FP32"), "must be finite"),
    "2 in a binary feature": (
        matrix([0, 2, 0]),
        "feature 'obesity' (column 1 of 'features') is binary: it accepts only 0 and 1",
    ),
    "0.5 in a binary per-feature tensor": (
        {"inputs": [tensor(n, [1], "FP64", [0.5 if n == "exercise" else 0]) for n in DIABETES]},
        "feature 'exercise' is binary",
    ),
    "no data": ({"inputs": [tensor("features", [1, 3], "FP64")]}, "has no data"),
    "data and binary size": (
        {"inputs": [tensor("features", [1, 3], "FP64", [0, 1, 0], binary_data_size=24)]},
        "has both data and binary_data_size",
    ),
    "binary size without bytes": (BIN, "declare 24 bytes of binary data but 0 follow"),
    "unknown output": (
        {**matrix([0, 1, 0]), "outputs": [{"name": "logits"}]},
        "output 'logits' (outputs[0]) is not an output of this model; its outputs are "
        "probability, label",
    ),
    "duplicate output": (
        {**matrix([0, 1, 0]), "outputs": [{"name": "label"}, {"name": "label"}]},
        "output 'label' is requested more than once",
    ),
    "classification output": (
        {**matrix([0, 1, 0]), "outputs": [{"name": "label", "parameters": {"classification": 2}}]},
        "classification and shared memory are not supported",
    ),
    "shared memory input": (
        {"inputs": [tensor("features", [1, 3], "FP64", shared_memory_region="r")]},
        "shared memory is not supported",
    ),
    "no inputs": ({"inputs": []}, "inputs: List should have at least 1 item"),
    "negative dimension": (matrix([0, 1, 0], (-1, 3)), "inputs.0.shape.0: Input should be greater"),
}


@pytest.mark.parametrize("body, message", BAD.values(), ids=BAD.keys())
def test_bad_tensors_are_400_with_the_reason(client, body, message):
    resp = post(client, body)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    err = resp.get_json()
    assert message in err["error"]
    assert err["code"] == "validation_error" and err["details"] and err["request_id"]
    assert "zz9" not in err["error"] and "300" not in err["error"]
    if "logits" not in message:  # an unknown output is named (quoted, cut short): nothing else
        assert "logits" not in err["error"]


BINARY_BAD = {
    "size disagrees with payload": (
        BIN,
        [F64[:, :2]],
        None,
        "declare 24 bytes of binary data but 16 follow",
    ),
    "size disagrees with shape": (
        {"inputs": [tensor("features", [1, 3], "FP32", binary_data_size=24)]},
        [F64],
        None,
        "binary_data_size is 24 bytes but shape [1, 3] of FP32 needs 12",
    ),
    "header longer than body": (
        BIN,
        [F64],
        "9999",
        "Inference-Header-Content-Length is 9999 bytes but the body has only",
    ),
    "header not a number": (BIN, [F64], "12abc", "must be a whole number of bytes"),
    "binary bytes without the header": (
        BIN,
        [F64],
        "",
        "(binary tensor data needs Inference-Header-Content-Length)",
    ),
    "Infinity in binary FP64": (BIN, [np.array([[0, np.inf, 0]], "<f8")], None, "must be finite"),
    "BOOL byte 2": (
        {"inputs": [tensor("features", [1, 3], "BOOL", binary_data_size=3)]},
        [np.array([0, 2, 1], "u1")],
        None,
        "BOOL bytes must be 0 or 1",
    ),
}


@pytest.mark.parametrize("header, arrays, length, text", BINARY_BAD.values(), ids=BINARY_BAD.keys())
def test_bad_binary_requests_are_400_with_the_reason(client, header, arrays, length, text):
    body, headers = with_binary(header, *arrays)
    if length == "":
        del headers[HEADER]
    elif length is not None:
        headers[HEADER] = length
    resp = post(client, body, headers=headers)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert text in resp.get_json()["error"]


def test_broken_json_content_type_and_encoding(client):
    resp = post(client, b'{"inputs": [')
    assert resp.status_code == 400 and resp.get_json()["code"] == "bad_request"
    body = orjson.dumps(matrix([0, 1, 0]))
    resp = post(client, body, content_type="text/plain")
    assert resp.status_code == 415
    resp = post(client, body, headers={"Content-Encoding": "gzip"})
    assert resp.status_code == 415 and "uncompressed" in resp.get_json()["error"]
    for ctype in ("application/json", "application/octet-stream"):
        assert post(client, body, content_type=ctype).status_code == 200


def test_members_the_protocol_does_not_name_are_ignored(client):
    body = {**matrix([0, 1, 0]), "model": "x", "outputs": [{"name": "label", "extra": 1}]}
    body["inputs"][0]["future_member"] = {"a": 1}
    resp = client.post("/v2/models/diabetes/infer", json=body)
    assert resp.status_code == 200, resp.get_json()
    assert [o["name"] for o in resp.get_json()["outputs"]] == ["label"]


def test_whole_numbers_beyond_64_bits_are_numbers_as_on_predict(client):
    big = 2**64  # beyond int64 and uint64: read as a float, as /predict reads it
    assert client.post("/models/moons/predict", json={"x1": big, "x2": 0}).status_code == 200
    for datatype in ("FP32", "FP64"):
        body = {"inputs": [{"name": "features", "shape": [1, 2], "datatype": datatype}]}
        body["inputs"][0]["data"] = [big, 0]
        resp = client.post("/v2/models/moons/infer", json=body)
        assert resp.status_code == 200, resp.get_json()
    body["inputs"][0]["data"] = [10**400, 0]  # beyond float64: infinite, refused as on /predict
    resp = client.post("/v2/models/moons/infer", json=body)
    assert resp.status_code == 400 and "must be finite" in resp.get_json()["error"]
