"""Model metadata is typed: what training writes validates, and stores from before still serve."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from model_store import ModelStore
from service.training.metadata import STORE_FIELDS, ModelMeta
from service.web.app import create_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def old_store(tmp_path) -> ModelStore:
    """Four models written by the release before ModelMeta existed (commit 7a86f9f)."""
    shutil.copytree(FIXTURES / "store-v1", tmp_path / "models")
    return ModelStore(tmp_path / "models")


def test_versions_written_before_the_type_validate(old_store):
    for name in old_store.list_models():
        meta = ModelMeta.model_validate(old_store.load(name).meta)
        assert meta.model == name and meta.version == 1
    diabetes = ModelMeta.model_validate(old_store.load("diabetes").meta)
    assert diabetes.classes == [0, 1] and all(type(c) is int for c in diabetes.classes)
    assert [f.type for f in diabetes.features] == ["binary"] * 3
    assert all(f.zero_one for f in diabetes.features)


def test_an_old_store_answers_exactly_as_the_release_that_wrote_it(old_store, tmp_path):
    client = create_app({"data_dir": tmp_path, "model_store": old_store.root}).test_client()
    cases = json.loads((FIXTURES / "store-v1-answers.json").read_text())
    assert {c["path"].split("/")[2] for c in cases} == {"diabetes", "moons", "multi", "reg"}
    for case in cases:
        resp = client.post(case["path"], json=case["body"])
        assert resp.status_code == 200, resp.json
        assert resp.json == case["answer"], case["path"]


def test_what_training_writes_is_what_serving_reads(store):
    doc = store.load("moons").meta
    meta = ModelMeta.model_validate(doc)
    written = {k: v for k, v in doc.items() if k in ModelMeta.model_fields}
    assert meta.to_store() == {k: v for k, v in written.items() if k not in STORE_FIELDS}
    assert meta.task == "binary" and meta.architecture.n_inputs == 2


def test_a_document_missing_what_serving_needs_is_refused(old_store):
    doc = dict(old_store.load("moons").meta)
    del doc["normalisation"]
    with pytest.raises(ValidationError, match="normalisation"):
        ModelMeta.model_validate(doc)
