"""A version stored on S3 (a real moto server) exports as it does from a directory: the installed
nns-export command and the route give the same file, which answers as /predict on that store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from model_store import open_store
from service.data.csvfile import read_csv_text
from service.serving.predictor import Predictor
from service.training.pipeline import train_model
from service.training.spec import Hyperparameters, TrainSpec
from service.web.app import create_app
from tests.support.onnx_checks import answers, assert_same, feeds, run, session
from tests.support.tables import shop_csv

from .conftest import S3Raw


def test_a_version_on_s3_exports_and_answers_as_predict(
    s3_raw: S3Raw, s3_env: dict, tmp_path: Path
):
    store = open_store(s3_raw.location)
    params = Hyperparameters(hidden=[8], epochs=60)
    data = read_csv_text(shop_csv(200, seed=5), "kind", exclude=("ok", "amount"))
    train_model(TrainSpec(model="shop", hyperparameters=params, promote="always"), data, store)

    client = create_app({"data_dir": tmp_path, "model_store": s3_raw.location}).test_client()
    resp = client.get("/models/shop/versions/1/onnx")
    assert resp.status_code == 200, resp.get_data(as_text=True)

    command = Path(sys.executable).parent / "nns-export"  # the installed console script
    out = tmp_path / "shop.onnx"
    argv = [str(command), "--store", s3_raw.location, "--model", "shop", "--out", str(out)]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, env={**s3_env, "PATH": ""}
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == resp.data

    model = Predictor(store.load("shop", 1), 1000)
    rows = [
        {"colour": c, "size": s, "x": x, "y": 0.1, "z": z}
        for c in ("red", "green", "blue", None)
        for s in ("S", "L")
        for x in (None, 4.0, 12.5)
        for z in (0.0, 1.0)
    ]
    served = client.post("/models/shop/predict", json={"instances": rows})
    assert served.status_code == 200
    assert_same(
        answers(model, run(session(out.read_bytes()), feeds(model, rows))),
        served.get_json()["predictions"],
    )
