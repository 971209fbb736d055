"""Informational files stored beside a version's weights."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from model_store import InvalidMetadata, ModelStore


def test_attachment_is_stored_listed_and_verified_by_hash(tmp_path):
    store = ModelStore(tmp_path)
    png = b"\x89PNG fake"
    v = store.publish("m", {"w": np.ones(2)}, {"k": 1}, attachments={"loss.png": png})
    assert (tmp_path / "m" / str(v) / "loss.png").read_bytes() == png
    meta = store.load("m").meta
    assert meta["attachments"] == {"loss.png": hashlib.sha256(png).hexdigest()}


@pytest.mark.parametrize(
    "name", ["../x.png", "weights.npz", "model.json", "a.exe", ".png", "A.png"]
)
def test_unsafe_attachment_names_are_refused_and_nothing_is_written(tmp_path, name):
    store = ModelStore(tmp_path)
    with pytest.raises(InvalidMetadata):
        store.publish("m", {"w": np.ones(2)}, {}, attachments={name: b"x"})
    assert store.list_models() == []
