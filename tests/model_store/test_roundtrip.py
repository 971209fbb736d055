"""Publishing, loading, promotion and listing on a healthy store."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from model_store import (
    FORMAT_VERSION,
    Artifact,
    InvalidMetadata,
    ModelNotFound,
    ModelStore,
    Pointer,
    Published,
    Store,
    StoreError,
    VersionNotFound,
    open_store,
)

from .conftest import FsRaw, S3Raw, canonical_digest, sample_arrays, sample_meta

ARRAYS_OF_EVERY_KIND = {
    "float64_nan": np.array([np.nan, -0.0, np.inf, 1e-308]),
    "float32": np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32),
    "int64": np.arange(-3, 3),
    "uint8": np.array([0, 255], dtype=np.uint8),
    "bool": np.array([True, False]),
    "scalar": np.array(3.5),
    "empty": np.zeros((0, 4)),
    "fortran": np.asfortranarray(np.arange(24, dtype=np.float64).reshape(4, 6)),
    "strided": np.arange(24, dtype=np.float64).reshape(4, 6)[::2, ::3],
    "labels": np.array(["setosa", "virginica"]),
    "layer.0/weight": np.ones((2, 2)),
}


def assert_bitwise_equal(expected: dict[str, np.ndarray], actual: dict[str, np.ndarray]) -> None:
    """Assert two array dicts hold the same keys, dtypes, shapes and bytes."""
    assert sorted(expected) == sorted(actual)
    for key, want in expected.items():
        got = actual[key]
        assert got.dtype == want.dtype, key
        assert got.shape == want.shape, key
        assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes(), key


def test_round_trip_is_bitwise_and_preserves_meta(store: Store) -> None:
    arrays = ARRAYS_OF_EVERY_KIND
    meta = sample_meta(history={"loss": [1.0, 0.5, 0.25]}, fingerprint="abc123")

    assert store.publish("iris", arrays, meta) == 1
    artifact = store.load("iris")

    assert isinstance(artifact, Artifact)
    assert (artifact.model, artifact.version) == ("iris", 1)
    assert_bitwise_equal(arrays, artifact.arrays)
    for key, value in meta.items():
        assert artifact.meta[key] == value
    assert artifact.meta["format"] == "nns-model"
    assert artifact.meta["format_version"] == FORMAT_VERSION == 1
    assert artifact.meta["model"] == "iris"
    assert artifact.meta["version"] == 1
    assert datetime.fromisoformat(artifact.meta["created_at"]).utcoffset().total_seconds() == 0
    assert artifact.meta["meta_sha256"] == canonical_digest(artifact.meta)
    assert store.read_meta("iris", 1) == artifact.meta


def test_documented_layout_on_disk(fs_store: ModelStore, root: Path) -> None:
    # The documented layout, so other tools can rely on it.
    fs_store.publish("iris", ARRAYS_OF_EVERY_KIND, sample_meta())
    assert sorted(p.name for p in (root / "iris" / "1").iterdir()) == ["model.json", "weights.npz"]
    assert (root / "iris" / "CURRENT").read_text().strip() == "1"
    assert (root / "iris" / "PROMOTIONS").read_text().split() == ["1"]
    with np.load(root / "iris" / "1" / "weights.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(ARRAYS_OF_EVERY_KIND)


def test_documented_layout_in_the_bucket(s3_raw: S3Raw) -> None:
    raw = s3_raw
    s3_store = open_store(raw.location)
    s3_store.publish("iris", ARRAYS_OF_EVERY_KIND, sample_meta())
    doc = json.loads(raw.read("iris", "1", "model.json"))
    blob = f"{raw.prefix}/iris/blobs/{doc['weights_sha256']}"
    assert sorted(raw.list_keys()) == [
        f"{raw.prefix}/iris.CURRENT",
        f"{raw.prefix}/iris/1/model.json",
        f"{raw.prefix}/iris/PROMOTIONS/0000000001-1",
        blob,
    ]
    # CURRENT names the version, then numbers the promotion (so every write changes its ETag).
    assert raw.read("iris.CURRENT") == b"1\n1\n"
    with np.load(io.BytesIO(raw.read("iris", "blobs", doc["weights_sha256"]))) as npz:
        assert sorted(npz.files) == sorted(ARRAYS_OF_EVERY_KIND)


def test_versions_count_up_and_current_follows_promote(store: Store) -> None:
    assert store.publish("m", sample_arrays(1), sample_meta()) == 1
    assert store.publish("m", sample_arrays(2), sample_meta()) == 2
    assert store.current_version("m") == 2
    assert store.publish("m", sample_arrays(3), sample_meta(), promote=False) == 3
    assert store.current_version("m") == 2
    assert store.load("m").version == 2
    assert_bitwise_equal(sample_arrays(3), store.load("m", 3).arrays)
    assert store.versions("m") == [1, 2, 3]


def test_publish_outcome_tells_whether_the_version_became_current(store: Store) -> None:
    assert store.publish_outcome("m", sample_arrays(1), sample_meta()) == Published(1, True)
    unpromoted = store.publish_outcome("m", sample_arrays(2), sample_meta(), promote=False)
    assert unpromoted == Published(2, False)
    assert store.current_version("m") == 1


def test_set_current_promotes_and_rolls_back(store: Store) -> None:
    for seed in (1, 2, 3):
        store.publish("m", sample_arrays(seed), sample_meta(), promote=False)
    store.set_current("m", 3)
    assert store.load("m").version == 3
    store.set_current("m", 1)
    assert store.current_version("m") == 1
    assert_bitwise_equal(sample_arrays(1), store.load("m").arrays)


def test_set_current_on_missing_version_or_model(store: Store) -> None:
    store.publish("m", sample_arrays(), sample_meta())
    with pytest.raises(VersionNotFound):
        store.set_current("m", 2)
    with pytest.raises(ModelNotFound):
        store.set_current("other", 1)
    assert store.current_version("m") == 1


def test_listing(store: Store) -> None:
    assert store.list_models() == []
    assert store.pointer_state() == {}
    store.publish("zeta", sample_arrays(), sample_meta())
    store.publish("alpha", sample_arrays(), sample_meta())
    store.publish("alpha", sample_arrays(), sample_meta())
    store.publish("mid", sample_arrays(), sample_meta(), promote=False)
    assert store.list_models() == ["alpha", "mid", "zeta"]
    assert store.versions("alpha") == [1, 2]
    assert store.pointer_state() == {"alpha": 2, "mid": None, "zeta": 1}


def test_missing_model_and_version(store: Store) -> None:
    with pytest.raises(ModelNotFound):
        store.versions("nope")
    with pytest.raises(ModelNotFound):
        store.current_version("nope")
    with pytest.raises(ModelNotFound):
        store.load("nope")
    with pytest.raises(ModelNotFound):
        store.read_meta("nope", 1)
    assert store.current_token("nope") is None
    store.publish("m", sample_arrays(), sample_meta())
    with pytest.raises(VersionNotFound):
        store.load("m", 2)
    with pytest.raises(VersionNotFound):
        store.read_meta("m", 2)


def test_model_without_current_raises_version_not_found(store: Store) -> None:
    store.publish("m", sample_arrays(), sample_meta(), promote=False)
    with pytest.raises(VersionNotFound, match="no current version"):
        store.current_version("m")
    with pytest.raises(VersionNotFound):
        store.load("m")
    assert store.load("m", 1).version == 1
    assert store.current_token("m") is None
    assert store.pointer_state() == {"m": None}
    assert store.pointers() == {"m": Pointer(None, None)}


def test_current_token_changes_on_every_pointer_write(store: Store) -> None:
    store.publish("m", sample_arrays(1), sample_meta())
    store.publish("m", sample_arrays(2), sample_meta(), promote=False)
    seen = [store.current_token("m")]
    for version in (2, 1, 1, 2, 2, 1):
        store.set_current("m", version)
        seen.append(store.current_token("m"))
        assert store.pointers()["m"] == Pointer(version, seen[-1])
    assert all(isinstance(value, str) for value in seen)
    # Even re-promoting the version already current is a change a poller sees.
    assert len(set(seen)) == len(seen)
    if isinstance(store, ModelStore):
        # CURRENT's mtime, strictly increasing even within one filesystem clock tick.
        mtimes = [int(token) for token in seen]
        assert mtimes == sorted(mtimes) and mtimes[-1] == store.current_mtime_ns("m")


def test_store_owned_keys_override_the_callers(store: Store) -> None:
    meta = sample_meta(version=99, model="other", format_version=7, meta_sha256="x")
    store.publish("m", sample_arrays(), meta)
    doc = store.read_meta("m", 1)
    assert (doc["version"], doc["model"], doc["format_version"]) == (1, "m", 1)


def test_meta_is_normalised_to_json(store: Store) -> None:
    store.publish("m", sample_arrays(), {"shape": (2, 3), "nested": {"t": (1,)}})
    assert store.read_meta("m", 1)["shape"] == [2, 3]
    assert store.read_meta("m", 1)["nested"] == {"t": [1]}


@pytest.mark.parametrize(
    "meta",
    [
        {"bad": object()},
        {"bad": {1, 2}},
        {"bad": np.float32(1.0)},
        {"loss": float("nan")},
        ["not", "a", "mapping"],
    ],
)
def test_unserialisable_meta_writes_nothing(store: Store, raw: FsRaw | S3Raw, meta: object) -> None:
    with pytest.raises(InvalidMetadata) as info:
        store.publish("m", sample_arrays(), meta)  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, StoreError)
    assert raw.is_empty()


@pytest.mark.parametrize(
    "arrays",
    [
        {"obj": np.array([{"a": 1}], dtype=object)},
        {"ragged": np.array([[1], [1, 2]], dtype=object)},
        {"": np.zeros(1)},
        {"file": np.zeros(1)},
        {1: np.zeros(1)},
        [np.zeros(1)],
    ],
)
def test_unstorable_arrays_write_nothing(store: Store, raw: FsRaw | S3Raw, arrays: object) -> None:
    with pytest.raises(InvalidMetadata):
        store.publish("m", arrays, sample_meta())  # type: ignore[arg-type]
    assert raw.is_empty()


def test_model_json_is_readable_by_plain_json(store: Store, raw: FsRaw | S3Raw) -> None:
    store.publish("m", sample_arrays(), sample_meta())
    doc = json.loads(raw.read("m", "1", "model.json").decode("utf-8"))
    assert doc == store.read_meta("m", 1)
