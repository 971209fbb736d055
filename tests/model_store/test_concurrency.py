"""Filesystem backend: concurrent publishers, numbering retries and temporary directories.

The same guarantees on object storage are tested in test_s3.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from model_store import CorruptArtifact, ModelNotFound, ModelStore

from .conftest import assert_each_writer_got_its_own_versions, child_command, child_env

PUBLISHER = """
import json, os, sys, time
import numpy as np
from model_store import ModelStore

root, go, writer, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = ModelStore(root)
print("READY", flush=True)
while not os.path.exists(go):
    time.sleep(0.002)
versions = []
for i in range(count):
    tag = f"{writer}-{i}"
    versions.append(store.publish("m", {"w": np.full(50_000, float(len(versions)))},
                                  {"writer": tag}))
print(json.dumps(versions), flush=True)
"""


@pytest.fixture
def store(fs_store: ModelStore) -> ModelStore:
    """These tests are about the filesystem backend only."""
    return fs_store


THREADS = 8
THREAD_PUBLISHES = 2
PROCESSES = 4
PROCESS_PUBLISHES = 3


@pytest.mark.process
def test_threads_and_processes_publish_distinct_loadable_versions(
    root: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            child_command(PUBLISHER, str(root), str(go), f"p{n}", str(PROCESS_PUBLISHES)),
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=tmp_path,
        )
        for n in range(PROCESSES)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY"

    barrier = threading.Barrier(THREADS + 1)
    results: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def publish(writer: str) -> None:
        store = ModelStore(root)
        barrier.wait()
        try:
            results[writer] = [
                store.publish("m", {"w": np.full(50_000, float(i))}, {"writer": f"{writer}-{i}"})
                for i in range(THREAD_PUBLISHES)
            ]
        except BaseException as exc:  # reported below, so a thread failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(f"t{n}",)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    go.touch()
    barrier.wait()
    for thread in threads:
        thread.join(timeout=30)
    for n, child in enumerate(children):
        out, _ = child.communicate(timeout=30)
        assert child.returncode == 0
        results[f"p{n}"] = json.loads(out)
    assert not errors

    total = THREADS * THREAD_PUBLISHES + PROCESSES * PROCESS_PUBLISHES
    store = ModelStore(root)
    assert_each_writer_got_its_own_versions(store, results, total, 50_000)
    # Promotion happens under the same lock as numbering, so the newest version wins.
    assert store.current_version("m") == total
    assert not [p for p in (root / "m").iterdir() if p.name.startswith(".tmp-")]


def test_rename_collision_retries_with_the_next_number(
    store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.publish("m", {"w": np.zeros(1)}, {})
    real_rename = os.rename
    squatted: list[str] = []

    def racing_rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        # Simulate a writer that ignores the lock grabbing the number at the last moment.
        if not squatted:
            Path(dst).mkdir()
            (Path(dst) / "junk").write_text("x")
            squatted.append(Path(dst).name)
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", racing_rename)
    version = store.publish("m", {"w": np.ones(1)}, {"n": 3})
    monkeypatch.undo()

    assert squatted == ["2"]
    assert version == 3
    assert store.current_version("m") == 3
    artifact = store.load("m", 3)
    assert artifact.meta["version"] == 3 and artifact.meta["n"] == 3
    with pytest.raises(CorruptArtifact):
        store.load("m", 2)


def test_half_written_tmp_dirs_are_ignored(store: ModelStore, root: Path) -> None:
    half = root / "m" / ".tmp-deadbeef"
    half.mkdir(parents=True)
    (half / "weights.npz").write_bytes(b"PK\x03\x04partial")
    (root / "m" / ".tmp-0123.CURRENT").write_text("7")
    (root / ".tmp-abc").mkdir()
    (root / "m" / "notaversion").mkdir()
    assert store.list_models() == []
    assert store.pointer_state() == {}
    with pytest.raises(ModelNotFound):
        store.versions("m")

    assert store.publish("m", {"w": np.zeros(1)}, {}) == 1
    assert store.versions("m") == [1]
    assert store.list_models() == ["m"]
    assert store.pointer_state() == {"m": 1}


def test_stale_tmp_entries_are_cleaned_on_publish_fresh_ones_kept(
    store: ModelStore, root: Path
) -> None:
    stale_dir = root / "m" / ".tmp-stale"
    stale_file = root / "m" / ".tmp-stale.CURRENT"
    fresh_dir = root / "m" / ".tmp-fresh"
    for directory in (stale_dir, fresh_dir):
        directory.mkdir(parents=True)
        (directory / "weights.npz").write_bytes(b"partial")
    stale_file.write_text("1")
    old = time.time() - 2 * store.stale_tmp_seconds
    for path in (stale_dir / "weights.npz", stale_dir, stale_file):
        os.utime(path, (old, old))

    store.publish("m", {"w": np.zeros(1)}, {})

    assert not stale_dir.exists()
    assert not stale_file.exists()
    assert fresh_dir.exists()


def test_tmp_dir_with_a_recently_written_file_is_not_stale(store: ModelStore, root: Path) -> None:
    # A slow publisher's directory is old but its weights file is still being written.
    slow = root / "m" / ".tmp-slow"
    slow.mkdir(parents=True)
    (slow / "weights.npz").write_bytes(b"streaming")
    old = time.time() - 2 * store.stale_tmp_seconds
    os.utime(slow, (old, old))
    store.publish("m", {"w": np.zeros(1)}, {})
    assert slow.exists()
