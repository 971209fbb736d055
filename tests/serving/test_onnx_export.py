"""The exported graph answers as /predict does: built-in models, text and missing values, unknown
categories at the training mean, every activation, a checked graph with the model's metadata."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from model_store import ModelStore
from service.data import datasets
from service.data.csvfile import read_csv_text
from service.data.dataset import from_rows
from service.nn import HIDDEN_ACTIVATIONS
from service.serving.onnx_export import ACTIVATION_OPS, export, to_bytes
from service.serving.onnx_graph import NotExportable
from service.serving.onnx_inputs import DAYS, describe
from service.serving.predictor import Predictor
from service.serving.v2.outputs import declared
from service.training.pipeline import run, train_model
from service.training.request import TrainRequest
from service.training.spec import Hyperparameters, TrainSpec
from service.web.app import create_app
from tests.support.onnx_checks import answers, assert_same, feeds, reference, session
from tests.support.onnx_checks import run as run_graph
from tests.support.tables import COLOURS, FLAG_ROWS, shop_csv

TARGETS = {"shop-kind": "kind", "shop-ok": "ok", "shop-amount": "amount"}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ModelStore:
    """The built-in models (their recipes) and models of text, booleans and missing values."""
    store = ModelStore(tmp_path_factory.mktemp("onnx") / "models")
    for name in datasets.BUILTIN:
        run(TrainRequest(model=name, dataset=name, promote="always"), store)
    params = Hyperparameters(hidden=[8], epochs=150, learning_rate=0.02)
    spec = {"hyperparameters": params, "promote": "always"}
    text = shop_csv(300, seed=1)
    for model, target in TARGETS.items():
        others = tuple(t for t in TARGETS.values() if t != target)
        train_model(
            TrainSpec(model=model, **spec), read_csv_text(text, target, exclude=others), store
        )
    train_model(TrainSpec(model="flags", **spec), from_rows(FLAG_ROWS, "renewed"), store)
    return store


@pytest.fixture(scope="module")
def client(store, tmp_path_factory):
    root = tmp_path_factory.mktemp("app")
    return create_app(
        {"data_dir": root, "model_store": store.root, "max_batch": 5000}
    ).test_client()


def predictor(store: ModelStore, name: str) -> Predictor:
    return Predictor(store.load(name, store.current_version(name)), 10_000)


def predict(client, name: str, rows: list[dict]) -> list[dict]:
    resp = client.post(f"/models/{name}/predict", json={"instances": rows})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["predictions"]


def graph_answers(model: Predictor, rows: list[dict]) -> list[dict]:
    return answers(model, run_graph(session(to_bytes(model)), feeds(model, rows)))


def csv_rows(text: str, model: Predictor) -> list[dict]:
    """Rows of CSV text as a client sends them: numbers, text, None where missing."""
    header, *lines = [line.split(",") for line in text.strip().splitlines()]
    out = []
    for cells in lines:
        row = {}
        for spec in model.meta.features:
            cell = cells[header.index(spec.name)]
            if cell in ("", "NA"):
                row[spec.name] = None
            elif spec.type == "numeric" or spec.zero_one:
                row[spec.name] = float(cell)
            else:
                row[spec.name] = cell
        out.append(row)
    return out


def builtin_rows(name: str) -> list[dict]:
    """Every row of a built-in dataset; for moons, 200 points drawn with another seed."""
    data = datasets.make_moons(200, seed=99) if name == "moons" else datasets.builtin(name)
    return [dict(zip(data.features, map(float, row), strict=True)) for row in data.X]


@pytest.mark.parametrize("name", datasets.BUILTIN)
def test_every_built_in_model_answers_as_predict(store, client, name):
    model, rows = predictor(store, name), builtin_rows(name)
    assert_same(graph_answers(model, rows), predict(client, name, rows))


@pytest.mark.parametrize("name", list(TARGETS))
def test_text_and_missing_values_answer_as_predict(store, client, name):
    model = predictor(store, name)
    rows = csv_rows(shop_csv(200, seed=7), model)  # rows never trained on
    assert any(r["colour"] is None for r in rows) and any(r["x"] is None for r in rows)
    assert_same(graph_answers(model, rows), predict(client, name, rows))


def test_booleans_in_categories_and_labels_answer_as_predict(store, client):
    model = predictor(store, "flags")
    rows = [{"answer": r["answer"], "score": r["score"]} for r in FLAG_ROWS]
    got = graph_answers(model, rows)
    assert all(type(g["label"]) is bool for g in got)  # a BOOL label tensor, as on V2
    assert_same(got, predict(client, "flags", rows))


@pytest.mark.parametrize("name", [*TARGETS, "flags"])
def test_unknown_categories_score_at_the_training_mean(store, client, name):
    model = predictor(store, name)
    if name == "flags":
        rows = [{"answer": a, "score": 2.0} for a in ("never", "MAYBE", "", "True", "true")]
    else:
        base = {"colour": "red", "size": "S", "x": 11.0, "y": 0.5, "z": 1.0}
        rows = [{**base, "colour": "purple"}, {**base, "size": "XL"}, {**base, "size": None}]
        rows.append({**base, "colour": "Red", "size": ""})
        rows = [{k: v for k, v in r.items() if k in model.feature_set.names} for r in rows]
    got, expected = graph_answers(model, rows), reference(model, rows)
    assert_same(got, expected)
    if name == "flags":  # "true" is the text of True: a known value, not an unknown one
        assert got[-1] == graph_answers(model, [{"answer": True, "score": 2.0}])[0]
    # The rule moves the feature's scaled columns to 0: the answer is that of a row whose
    # columns are the training mean, and no known category's answer.
    known = (
        graph_answers(model, [{**rows[0], "colour": c} for c in COLOURS])
        if "colour" in rows[0]
        else []
    )
    assert all(k != got[0] for k in known)
    resp = client.post(f"/models/{name}/predict", json={"instances": rows[:1]})
    if resp.status_code == 200:  # the service scores unknown categories too (issue 20)
        assert_same(got[:1], resp.get_json()["predictions"])
    else:
        assert resp.status_code == 422


def test_missing_values_impute_or_take_their_own_column(store, client):
    model = predictor(store, "shop-kind")
    spec = {s.name: s for s in model.meta.features}
    base = {"colour": "blue", "size": "L", "x": 8.0, "y": -0.2, "z": 0.0}
    rows = [{**base, "x": None}, {**base, "x": spec["x"].impute}, {**base, "colour": None}]
    got = graph_answers(model, rows)
    assert got[0] == got[1]  # NaN is the stored median
    assert_same(got, predict(client, "shop-kind", rows))
    # Where training had no missing value, /predict refuses the row; the graph says NaN.
    nan = graph_answers(model, [{**base, "y": None}])[0]
    assert all(np.isnan(nan["probabilities"]))
    assert client.post("/models/shop-kind/predict", json={**base, "y": None}).status_code == 422


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_every_hidden_activation_exports(tmp_path, activation):
    assert set(ACTIVATION_OPS) >= set(HIDDEN_ACTIVATIONS) | {"sigmoid", "softmax", "identity"}
    store = ModelStore(tmp_path / "models")
    params = {"hidden": [6, 5], "activation": activation, "epochs": 50}
    run(TrainRequest(model="m", dataset="moons", hyperparameters=params, promote="always"), store)
    model, rows = predictor(store, "m"), builtin_rows("moons")
    assert_same(graph_answers(model, rows), reference(model, rows))


@pytest.mark.parametrize("name", [*datasets.BUILTIN, *TARGETS, "flags"])
def test_the_graph_is_checked_and_describes_the_model(store, name):
    model = predictor(store, name)
    proto = export(model)
    onnx.checker.check_model(proto, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    assert [o.name for o in inferred.graph.output] == (
        ["prediction"] if model.task == "regression" else ["probability", "label"]
    )
    assert {o.domain: o.version for o in proto.opset_import} == {"": 17, "ai.onnx.ml": 3}
    assert proto.ir_version == 8 and proto.model_version == model.version
    assert [i.name for i in proto.graph.input] == model.feature_set.names
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["model"] == name and props["version"] == str(model.version)
    assert props["data_sha256"] == model.meta.data.sha256 and props["task"] == model.task
    features = json.loads(props["features"])
    assert [(f["name"], f["kind"]) for f in features] == [
        (s.name, s.type) for s in model.meta.features
    ]
    if model.task != "regression":
        assert json.loads(props["classes"]) == model.classes


V2_TYPES = {"FP32": "float", "FP64": "double", "INT64": "int64", "BOOL": "bool", "BYTES": "string"}


@pytest.mark.parametrize("name", [*datasets.BUILTIN, *TARGETS, "flags"])
def test_the_outputs_are_named_typed_and_shaped_as_the_v2_outputs(store, name):
    """A client of /v2/models/{name}/infer reads Triton serving the exported file alike."""
    model = predictor(store, name)
    outputs = session(to_bytes(model)).get_outputs()
    got = [(o.name, o.type, [-1 if d == "N" else d for d in o.shape]) for o in outputs]
    want = [(t["name"], f"tensor({V2_TYPES[t['datatype']]})", t["shape"]) for t in declared(model)]
    assert got == want


def test_a_feature_named_like_an_output_is_refused_with_the_reason(tmp_path):
    store = ModelStore(tmp_path / "models")
    rows = [{"label": float(i % 3), "x": (i * 7 % 10) / 3, "y": i % 2} for i in range(30)]
    spec = TrainSpec(model="clash", hyperparameters=Hyperparameters(epochs=5), promote="always")
    train_model(spec, from_rows(rows, "y"), store)
    with pytest.raises(NotExportable, match="feature 'label'"):
        export(predictor(store, "clash"))


def test_a_feature_kind_the_exporter_does_not_know_is_refused(store):
    model = predictor(store, "xor")
    unknown = model.meta.features[0].model_construct(
        **{**model.meta.features[0].__dict__, "type": "later"}
    )
    model.meta = model.meta.model_copy(update={"features": [unknown, *model.meta.features[1:]]})
    with pytest.raises(NotExportable, match="of kind 'later'"):
        export(model)


def test_date_features_are_days_since_1970(tmp_path):
    """A date column exports as a float input of days; its answers are /predict's, gaps too."""
    rng = np.random.default_rng(3)
    days = rng.integers(18_000, 20_000, 240)
    lines = ["when,x,late"]
    for i, day in enumerate(days):
        when = str(np.datetime64(int(day), "D")) + ("T06:30" if i % 2 else "")
        when = "" if i % 17 == 0 else when  # a gap now and then: the feature is nullable
        lines.append(f"{when},{rng.normal():.3f},{'yes' if day > 19_000 else 'no'}")
    store = ModelStore(tmp_path / "models")
    params = Hyperparameters(hidden=[8], epochs=120, learning_rate=0.02)
    train_model(
        TrainSpec(model="dated", hyperparameters=params, promote="always"),
        read_csv_text("\n".join(lines) + "\n", "late"),
        store,
    )
    model = predictor(store, "dated")
    spec = model.meta.features[0]
    assert (spec.name, spec.type, spec.nullable) == ("when", "date", True)
    assert describe(spec)["input"] == "float" and describe(spec)["unit"] == DAYS
    rows = [
        {"when": "2021-06-01", "x": 0.1},
        {"when": "2023-12-31T23:59:30Z", "x": -1.0},
        {"when": "2019-02-03T10:00+02:00", "x": 0.5},
        {"when": None, "x": 0.0},
    ]
    client = create_app({"data_dir": tmp_path, "model_store": store.root}).test_client()
    assert_same(graph_answers(model, rows), predict(client, "dated", rows))
    fed = feeds(model, rows[:1])["when"]
    assert fed.dtype == np.float32 and fed[0, 0] == 18779.0  # 2021-06-01 is day 18,779
