"""The promotion history a reader falls back on when CURRENT is broken."""

from __future__ import annotations

import numpy as np

from model_store import ModelStore


def test_promotions_are_remembered_newest_first_each_once(tmp_path):
    store = ModelStore(tmp_path)
    for promote in (True, True, False):
        store.publish("m", {"w": np.ones(1)}, {}, promote=promote)
    store.set_current("m", 1)
    store.set_current("m", 2)
    assert store.promoted_versions("m") == [2, 1]


def test_a_torn_last_line_is_ignored(tmp_path):
    store = ModelStore(tmp_path)
    store.publish("m", {"w": np.ones(1)}, {})
    with open(tmp_path / "m" / "PROMOTIONS", "a") as log:
        log.write("\n1x")  # what a crash in the middle of an append can leave
    assert store.promoted_versions("m") == [1]
    store.publish("m", {"w": np.ones(1)}, {})
    assert store.promoted_versions("m") == [2, 1]
    assert store.current_version("m") == 2 and store.list_models() == ["m"]


def test_no_history_for_a_model_never_promoted(tmp_path):
    store = ModelStore(tmp_path)
    store.publish("m", {"w": np.ones(1)}, {}, promote=False)
    assert store.promoted_versions("m") == []


def test_hundreds_of_promotions_are_all_read(tmp_path):
    # The history once read only its first 64 bytes: after ~17 promotions the newest were lost
    # and a cut line ("18" read as "1") passed for a version.
    store = ModelStore(tmp_path)
    for _ in range(20):
        store.publish("m", {"w": np.ones(1)}, {}, promote=False)
    for i in range(300):
        store.set_current("m", 1 + i % 2)
    for version in (18, 12, 20):
        store.set_current("m", version)
    assert store.promoted_versions("m") == [20, 12, 18, 2, 1]
