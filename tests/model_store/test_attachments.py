"""Informational files stored beside a version's weights."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from model_store import CorruptArtifact, InvalidMetadata, InvalidName, ModelStore, Store, StoreError

from .conftest import FsRaw, S3Raw, edit_model_json


def test_attachment_is_stored_listed_and_verified_by_hash(store: Store, raw: FsRaw | S3Raw):
    png = b"\x89PNG fake"
    v = store.publish("m", {"w": np.ones(2)}, {"k": 1}, attachments={"loss.png": png})
    meta = store.load("m").meta
    assert meta["attachments"] == {"loss.png": hashlib.sha256(png).hexdigest()}
    assert store.read_attachment("m", v, "loss.png") == png
    with pytest.raises(StoreError, match="no attachment 'other.png'"):
        store.read_attachment("m", v, "other.png")
    raw.write(b"\x89PNG edited", *raw.attachment("m", v, "loss.png"))
    with pytest.raises(CorruptArtifact, match=r"loss\.png checksum mismatch"):
        store.read_attachment("m", v, "loss.png")


def test_attachment_sits_beside_the_weights_on_disk(fs_store: ModelStore):
    fs_store.publish("m", {"w": np.ones(2)}, {}, attachments={"loss.png": b"png"})
    assert (fs_store.root / "m" / "1" / "loss.png").read_bytes() == b"png"


@pytest.mark.parametrize(
    "name", ["../x.png", "weights.npz", "model.json", "a.exe", ".png", "A.png"]
)
def test_unsafe_attachment_names_are_refused_and_nothing_is_written(
    store: Store, raw: FsRaw | S3Raw, name: str
):
    with pytest.raises(InvalidMetadata):
        store.publish("m", {"w": np.ones(2)}, {}, attachments={name: b"x"})
    assert store.list_models() == []
    assert raw.is_empty()


@pytest.mark.parametrize("listed", [{"loss.png": "../../x"}, {"loss.png": 1}, ["loss.png"]])
def test_a_re_signed_model_json_cannot_point_an_attachment_elsewhere(
    store: Store, raw: FsRaw | S3Raw, listed: object
):
    store.publish("m", {"w": np.ones(2)}, {}, attachments={"loss.png": b"png"})
    edit_model_json(raw, 1, lambda doc: doc.update(attachments=listed), resign=True)
    with pytest.raises(StoreError, match="no attachment 'loss.png'"):
        store.read_attachment("m", 1, "loss.png")


@pytest.mark.parametrize("name", ["../1/model.json", "weights.npz", "model.json", "A.png"])
def test_unsafe_attachment_names_are_never_read(store: Store, name: str):
    store.publish("m", {"w": np.ones(2)}, {})
    with pytest.raises(InvalidName):
        store.read_attachment("m", 1, name)
