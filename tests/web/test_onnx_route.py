"""GET /models/{name}/versions/{v}/onnx: the file nns-export writes, errors in the one shape."""

from __future__ import annotations

import json
import subprocess
import sys

from model_store import ModelStore
from service.data.dataset import from_rows
from service.serving.export import export_main
from service.serving.predictor import Predictor
from service.training.pipeline import train_model
from service.training.spec import Hyperparameters, TrainSpec
from service.web.app import create_app
from tests.support.onnx_checks import answers, assert_same, feeds, run, session

ROWS = [{"smoking": s, "obesity": o, "exercise": e} for s in (0, 1) for o in (0, 1) for e in (0, 1)]


def test_the_file_is_the_one_nns_export_writes_and_answers_as_predict(client, store, tmp_path):
    resp = client.get("/models/diabetes/versions/1/onnx")
    assert resp.status_code == 200
    assert resp.mimetype == "application/octet-stream"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="diabetes-v1.onnx"'
    out = tmp_path / "d.onnx"
    assert export_main(["--store", str(store.root), "--model", "diabetes", "--out", str(out)]) == 0
    assert resp.data == out.read_bytes()
    model = Predictor(store.load("diabetes", 1), 100)
    got = answers(model, run(session(resp.data), feeds(model, ROWS)))
    served = client.post("/predict", json={"instances": ROWS}).get_json()["predictions"]
    assert_same(got, served)


def test_unknown_models_and_versions_are_404_in_the_error_shape(client):
    for path in (
        "/models/nope/versions/1/onnx",
        "/models/diabetes/versions/9/onnx",
        "/models/diabetes/versions/0/onnx",
        "/models/diabetes/versions/one/onnx",
        "/models/Bad%20Name/versions/1/onnx",
    ):
        resp = client.get(path)
        assert resp.status_code == 404, path
        body = resp.get_json()
        assert (
            set(body) == {"error", "code", "details", "request_id"} and body["code"] == "not_found"
        )


def test_a_model_that_cannot_be_exported_is_a_409_saying_why(tmp_path):
    store = ModelStore(tmp_path / "models")
    rows = [{"label": float(i % 3), "x": (i * 7 % 10) / 3, "y": i % 2} for i in range(30)]
    spec = TrainSpec(model="clash", hyperparameters=Hyperparameters(epochs=5), promote="always")
    train_model(spec, from_rows(rows, "y"), store)
    client = create_app({"data_dir": tmp_path, "model_store": store.root}).test_client()
    resp = client.get("/models/clash/versions/1/onnx")
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["code"] == "not_exportable" and "feature 'label'" in body["error"]


def test_without_the_onnx_package_the_service_runs_and_the_route_is_a_503(store, tmp_path):
    script = (
        "import json, sys\n"
        "sys.modules['onnx'] = None\n"  # import onnx fails, as when it is not installed
        "from service.web.app import create_app\n"
        "client = create_app({'data_dir': sys.argv[1], 'model_store': sys.argv[2]}).test_client()\n"
        "onnx = client.get('/models/diabetes/versions/1/onnx')\n"
        "row = {'smoking': 0, 'obesity': 1, 'exercise': 0}\n"
        "predict = client.post('/models/diabetes/predict', json=row)\n"
        "print(json.dumps([onnx.status_code, onnx.get_json(), predict.status_code]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(store.root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    status, body, predicted = json.loads(done.stdout.splitlines()[-1])
    assert (status, predicted) == (503, 200)
    assert body["code"] == "export_unavailable"
    assert "pip install 'nn-service[onnx]'" in body["error"]


def test_the_openapi_document_describes_a_binary_file(client):
    doc = client.get("/openapi.json").get_json()
    op = doc["paths"]["/models/{name}/versions/{version}/onnx"]["get"]
    assert op["responses"]["200"]["content"]["application/octet-stream"]["schema"]["format"] == (
        "binary"
    )
    assert {"404", "409", "503"} <= set(op["responses"])
    assert "security" not in op  # read-only, like the card
