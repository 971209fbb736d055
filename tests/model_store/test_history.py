"""The promotion history a reader falls back on when CURRENT is broken."""

from __future__ import annotations

import numpy as np

from model_store import ModelStore, Store

from .conftest import S3Raw


def test_promotions_are_remembered_newest_first_each_once(store: Store) -> None:
    for promote in (True, True, False):
        store.publish("m", {"w": np.ones(1)}, {}, promote=promote)
    store.set_current("m", 1)
    store.set_current("m", 2)
    assert store.promoted_versions("m") == [2, 1]


def test_a_torn_last_line_is_ignored(fs_store: ModelStore) -> None:
    fs_store.publish("m", {"w": np.ones(1)}, {})
    with open(fs_store.root / "m" / "PROMOTIONS", "a") as log:
        log.write("\n1x")  # what a crash in the middle of an append can leave
    assert fs_store.promoted_versions("m") == [1]
    fs_store.publish("m", {"w": np.ones(1)}, {})
    assert fs_store.promoted_versions("m") == [2, 1]
    assert fs_store.current_version("m") == 2 and fs_store.list_models() == ["m"]


def test_foreign_objects_among_the_promotions_are_ignored(s3_store: Store, s3_raw: S3Raw) -> None:
    s3_store.publish("m", {"w": np.ones(1)}, {})
    for junk in ("notes.txt", "0000000009-x", "0000000009-0", "9-2"):
        s3_raw.write(b"", "m", "PROMOTIONS", junk)
    assert s3_store.promoted_versions("m") == [1]
    s3_store.publish("m", {"w": np.ones(1)}, {})
    assert s3_store.promoted_versions("m") == [2, 1]


def test_no_history_for_a_model_never_promoted(store: Store) -> None:
    store.publish("m", {"w": np.ones(1)}, {}, promote=False)
    assert store.promoted_versions("m") == []


def test_hundreds_of_promotions_are_all_read(store: Store) -> None:
    # The history once read only its first 64 bytes: after ~17 promotions the newest were lost
    # and a cut line ("18" read as "1") passed for a version.
    for _ in range(20):
        store.publish("m", {"w": np.ones(1)}, {}, promote=False)
    for i in range(200):
        store.set_current("m", 1 + i % 2)
    for version in (18, 12, 20):
        store.set_current("m", version)
    assert store.promoted_versions("m") == [20, 12, 18, 2, 1]
