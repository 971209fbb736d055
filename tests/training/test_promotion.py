"""The promotion gate: a broken retrain is stored but not served; always promotes it anyway."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from model_store import ModelStore
from service.data import datasets
from service.data.dataset import Dataset
from service.training.metadata import Baseline, Metrics, Scores
from service.training.pipeline import train_model
from service.training.promotion import decide
from service.training.spec import Hyperparameters, TrainSpec
from tests.support.harness import ROOT

PARAMS = Hyperparameters(hidden=[16], epochs=300, learning_rate=0.01, batch_size=None)


def moons(shuffled: bool = False, seed: int = 0) -> Dataset:
    data = datasets.make_moons(400, 0.2, seed=seed)
    y = np.random.default_rng(seed).permutation(data.y) if shuffled else data.y
    return Dataset.numeric(data.features, data.target, data.X, y)


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "models")


def test_a_broken_retrain_is_stored_but_not_promoted_and_the_reason_has_both_numbers(store):
    good = train_model(TrainSpec(model="m", hyperparameters=PARAMS), moons(), store)
    assert good.promoted and good.metrics.evaluated_on == "cross_validation"
    assert good.reason.startswith("promoted: 5-fold cross-validated log loss")
    broken = train_model(TrainSpec(model="m", hyperparameters=PARAMS), moons(shuffled=True), store)
    assert (broken.version, broken.promoted) == (2, False)
    assert store.current_version("m") == 1
    new, baseline = broken.metrics.log_loss, broken.baseline.log_loss
    assert "not promoted: 5-fold cross-validated log loss" in broken.reason
    assert f"{new:.4g}" in broken.reason and f"{baseline:.4g}" in broken.reason
    meta = store.read_meta("m", 2)
    assert meta["promotion"]["promoted"] is False and meta["promotion"]["policy"] == "auto"


def test_worse_than_the_current_version_on_the_same_rows_is_refused(store):
    train_model(TrainSpec(model="m", hyperparameters=PARAMS), moons(), store)
    weak = Hyperparameters(hidden=[2], epochs=3, learning_rate=0.01, batch_size=None)
    result = train_model(TrainSpec(model="m", hyperparameters=weak), moons(), store)
    assert not result.promoted
    assert "current version 1's" in result.reason or "baseline" in result.reason
    meta = store.read_meta("m", 2)
    if meta["promotion"]["compared_with"] == 1:  # compared on the same held-out rows
        assert meta["promotion"]["current_metrics"]["log_loss"] < meta["metrics"]["log_loss"]


def test_always_promotes_and_never_stores_only(store):
    train_model(TrainSpec(model="m", hyperparameters=PARAMS), moons(), store)
    forced = train_model(
        TrainSpec(model="m", hyperparameters=PARAMS, promote="always"), moons(shuffled=True), store
    )
    assert forced.promoted and store.current_version("m") == 2
    kept = train_model(
        TrainSpec(model="m", hyperparameters=PARAMS, promote="never"), moons(), store
    )
    assert not kept.promoted and store.current_version("m") == 2
    assert kept.reason.startswith("promote=never")


def test_a_first_version_only_has_to_beat_its_baseline(store):
    result = train_model(
        TrainSpec(model="fresh", hyperparameters=PARAMS), moons(shuffled=True), store
    )
    assert not result.promoted and "baseline" in result.reason
    assert store.versions("fresh") == [1] and store.promoted_versions("fresh") == []


def test_decide_tolerance_is_relative_and_documented():
    base = Baseline(kind="mean", rmse=100.0)
    old = (1, Scores(rmse=49.5))

    def on(rmse: float) -> Metrics:
        return Metrics(evaluated_on="validation", rows=10, rmse=rmse)

    assert decide("auto", "regression", on(50.0), base, old).promote
    assert not decide("auto", "regression", on(51.0), base, old).promote
    assert not decide("auto", "regression", on(99.0), base, None).promote


def test_the_cli_says_why_and_the_json_line_carries_it(tmp_path):
    csv = tmp_path / "d.csv"
    data = moons(shuffled=True)
    csv.write_text(
        "x1,x2,label\n"
        + "".join(f"{a},{b},{int(c)}\n" for (a, b), c in zip(data.X, data.y, strict=True))
    )
    argv = [sys.executable, str(ROOT / "scripts" / "train.py"), "--store", str(tmp_path / "s")]
    argv += ["--data", str(csv), "--target", "label", "--model", "noise"]
    out = subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=120)
    line = json.loads(out.stdout.splitlines()[-1])
    assert out.returncode == 0 and line["promoted"] is False
    assert (
        line["reason"].startswith("not promoted") and line["baseline"]["kind"] == "majority class"
    )
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert "(not promoted)" in out.stdout and "baseline (majority class)" in out.stdout
