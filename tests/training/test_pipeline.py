"""The shared training function: what it publishes and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from model_store import ModelStore
from service.data import datasets
from service.data.csvfile import read_csv_text
from service.data.dataset import DatasetError
from service.serving.predictor import Predictor
from service.training.pipeline import train_model
from service.training.spec import Hyperparameters, TrainSpec


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "models")


def test_publishes_everything_the_card_needs(store):
    result = train_model(
        TrainSpec(model="diabetes", hyperparameters=Hyperparameters(epochs=200)),
        datasets.diabetes(),
        store,
    )
    assert (result.model, result.version, result.promoted) == ("diabetes", 1, True)
    meta = store.load("diabetes").meta
    for key in (
        "features",
        "target",
        "task",
        "architecture",
        "normalisation",
        "hyperparameters",
        "data",
        "metrics",
        "history",
        "created_at",
        "weights_sha256",
    ):
        assert key in meta
    assert meta["hyperparameters"]["epochs"] == 200
    assert meta["data"]["rows"] == 5 and len(meta["data"]["sha256"]) == 64
    assert meta["metrics"]["evaluated_on"] == "training"


def test_same_seed_same_weights_and_predictions(store):
    params = Hyperparameters(epochs=100, seed=9)
    train_model(TrainSpec(model="a", hyperparameters=params), datasets.xor(), store)
    train_model(TrainSpec(model="b", hyperparameters=params), datasets.xor(), store)
    a, b = store.load("a"), store.load("b")
    for key in a.arrays:
        assert np.array_equal(a.arrays[key], b.arrays[key])


def test_saved_model_predicts_bitwise_like_the_trained_one(store):
    data = datasets.make_moons(200, 0.2, seed=1)
    train_model(
        TrainSpec(model="moons", hyperparameters=Hyperparameters(hidden=[8], epochs=100)),
        data,
        store,
    )
    p1 = Predictor(store.load("moons"), 100)
    p2 = Predictor(store.load("moons", 1), 100)
    assert np.array_equal(p1.outputs(data.X), p2.outputs(data.X))


def test_cross_validated_metrics_and_epochs_chosen_by_the_folds_early_stopping(store):
    data = datasets.make_moons(300, 0.2, seed=2)
    params = Hyperparameters(hidden=[8], epochs=3000, validation_split=0.2, patience=20)
    result = train_model(TrainSpec(model="moons", hyperparameters=params), data, store)
    metrics = result.metrics
    assert (metrics.evaluated_on, metrics.rows, metrics.folds) == ("cross_validation", 300, 5)
    assert len(metrics.fold_scores) == 5 and len(result.baseline.fold_scores) == 5
    meta = store.load("moons").meta
    # The folds stopped early; the published model trained on every row for the epochs they chose.
    assert meta["history"]["epochs_run"] == meta["hyperparameters"]["epochs"] < 3000
    assert meta["hyperparameters"]["validation_split"] == 0.0
    assert {i["feature"] for i in meta["importance"]} == {"x1", "x2"}


def test_regression_and_multiclass(store):
    x = np.linspace(-2, 2, 40)
    csv = "x,y\n" + "".join(f"{v},{3 * v + 1}\n" for v in x)
    reg = train_model(
        TrainSpec(
            model="line",
            hyperparameters=Hyperparameters(
                hidden=[], loss="mse", activation="identity", epochs=500, learning_rate=0.05
            ),
        ),
        read_csv_text(csv, "y"),
        store,
    )
    assert reg.metrics.rmse < 0.1
    rows = "".join(f"{i % 3 * 5 + 0.1 * (i % 7)},{i % 3}\n" for i in range(60))
    multi = train_model(
        TrainSpec(
            model="three", hyperparameters=Hyperparameters(hidden=[6], loss="cce", epochs=800)
        ),
        read_csv_text("v,c\n" + rows, "c"),
        store,
    )
    assert multi.metrics.accuracy > 0.9
    assert store.load("three").meta["classes"] == [0, 1, 2]


@pytest.mark.parametrize(
    "csv,params,message",
    [
        ("a,y\n1,1\n2,1\n", {}, "only one value"),
        ("a,y\n1,0\n2,1\n3,2\n", {"loss": "bce"}, "a binary task needs exactly two"),
        ("a,y\n1,0\n2,1\n", {"validation_split": 0.9}, "leaves no training rows"),
        (
            "a,y\n1,1000\n2,-3000\n3,5000\n",
            {
                "learning_rate": 5.0,
                "loss": "mse",
                "optimizer": "sgd",
                "hidden": [8],
                "activation": "identity",
                "epochs": 200,
            },
            "diverged at epoch",
        ),
    ],
)
def test_refuses_bad_data_and_publishes_nothing(store, csv, params, message):
    with pytest.raises(ValueError, match=message):
        train_model(
            TrainSpec(model="m", hyperparameters=Hyperparameters(**params)),
            read_csv_text(csv, "y"),
            store,
        )
    assert store.list_models() == []


@pytest.mark.parametrize(
    "task,loss,message",
    [
        ("regression", None, "holds text: it cannot be a regression target"),
        ("binary", "mse", "loss 'mse' is for regression targets but the task is binary"),
    ],
)
def test_a_task_or_loss_that_does_not_fit_the_target_is_refused(store, task, loss, message):
    data = read_csv_text("a,y\n1,yes\n2,no\n", "y")
    with pytest.raises(DatasetError, match=message):
        train_model(
            TrainSpec(model="m", hyperparameters=Hyperparameters(loss=loss), task=task), data, store
        )
    assert store.list_models() == []


def test_features_must_match_existing_model(store):
    train_model(
        TrainSpec(model="diabetes", hyperparameters=Hyperparameters(epochs=10)),
        datasets.diabetes(),
        store,
    )
    other = read_csv_text("smoking,obesity,age,diabetic\n0,1,3,1\n1,0,4,0\n", "diabetic")
    with pytest.raises(DatasetError, match=r"missing \['exercise'\], unexpected \['age'\]"):
        train_model(
            TrainSpec(model="diabetes", hyperparameters=Hyperparameters(epochs=10)), other, store
        )
    assert store.versions("diabetes") == [1]


def test_hyperparameters_refuse_nonsense():
    with pytest.raises(ValueError):
        Hyperparameters(hidden=[0])
    with pytest.raises(ValueError):
        Hyperparameters(learning_rate=float("nan"))
    with pytest.raises(ValueError):
        Hyperparameters(optimizer="lbfgs")


def test_loss_plot_is_stored_beside_the_version(store):
    # matplotlib is in the dev extra, so the plotting path runs here.
    train_model(
        TrainSpec(model="xor", hyperparameters=Hyperparameters(epochs=50)), datasets.xor(), store
    )
    png = (store.root / "xor" / "1" / "loss.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert "loss.png" in store.load("xor").meta["attachments"]
