"""Crash safety: a publisher killed with SIGKILL at any point leaves a loadable store."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from model_store import Store, open_store
from tests.support.harness import wait_until

from .conftest import FsRaw, S3Raw, spawn

# The child pauses inside the n-th call of one os function during publish, so the parent can
# SIGKILL it at a precise point. The hook lives only in this child script.
PAUSING_PUBLISHER = """
import os, sys, time
import numpy as np
from model_store import ModelStore

root, target, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
real = getattr(os, target)
calls = 0

def paused(*args, **kwargs):
    global calls
    calls += 1
    if calls == nth:
        print("PAUSED", flush=True)
        time.sleep(60)
    return real(*args, **kwargs)

setattr(os, target, paused)
version = ModelStore(root).publish("m", {"w": np.full(100_000, 2.0)}, {"attempt": 2})
print("DONE", version, flush=True)
"""

# The same on object storage: the child pauses before its n-th PutObject of the publish. The
# probe runs first, so its own writes are not counted.
S3_PAUSING_PUBLISHER = """
import sys, time
import numpy as np
from model_store.s3 import S3Store, make_client

location, nth = sys.argv[1], int(sys.argv[2])
client = make_client()
store = S3Store(location, client=client)
store.check_conditional_writes()
calls = 0

def pause(**kwargs):
    global calls
    calls += 1
    if calls == nth:
        print("PAUSED", flush=True)
        time.sleep(60)

client.meta.events.register("before-send.s3.PutObject", pause)
version = store.publish("m", {"w": np.full(100_000, 2.0)}, {"attempt": 2},
                        attachments={"loss.png": b"png"})
print("DONE", version, flush=True)
"""

# Publishes big artifacts back to back until killed.
LOOPING_PUBLISHER = """
import sys
import numpy as np
from model_store import open_store

store = open_store(sys.argv[1])
print("READY", flush=True)
n = 0
while True:
    n += 1
    store.publish("m", {"w": np.full(500_000, float(n)), "b": np.arange(n)}, {"n": n})
"""

# (os function, call number) -> (versions after the kill, CURRENT after the kill).
# Publish makes seven fsyncs: weights, model.json, tmp dir, model dir after the version rename,
# CURRENT temp file, model dir after the CURRENT replace, the promotion history.
KILL_POINTS = {
    ("fsync", 1): ([1], 1),
    ("fsync", 2): ([1], 1),
    ("fsync", 3): ([1], 1),
    ("rename", 1): ([1], 1),
    ("fsync", 4): ([1, 2], 1),
    ("fsync", 5): ([1, 2], 1),
    ("replace", 1): ([1, 2], 1),
    ("fsync", 6): ([1, 2], 2),
    ("fsync", 7): ([1, 2], 2),
}

# PutObject number -> (versions, CURRENT, promotion history) after a kill just before it.
# A publish puts: the weights, the attachment, model.json, CURRENT, the history entry.
S3_KILL_POINTS = {
    1: ([1], 1, [1]),
    2: ([1], 1, [1]),
    3: ([1], 1, [1]),
    4: ([1, 2], 1, [1]),
    5: ([1, 2], 2, [1]),  # switched, but killed before recording it: the history misses 2
}


def seed_store(location: str | Path) -> Store:
    """Publish version 1 of model 'm' and return the store."""
    store = open_store(location)
    store.publish("m", {"w": np.full(100_000, 1.0)}, {"attempt": 1})
    return store


def assert_store_healthy(store: Store) -> None:
    """Assert every listed version and the current one load and verify."""
    for version in store.versions("m"):
        assert store.load("m", version).version == version
    current = store.load("m")
    assert current.version in store.versions("m")
    assert store.pointer_state() == {"m": current.version}


@contextlib.contextmanager
def killed_after(line: str, cwd: Path, script: str, *args: str) -> Iterator[None]:
    """Run script in a child until it prints line, run the body, then SIGKILL the child."""
    child = spawn(script, *args, cwd=cwd)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == line, "the child never got there"
        yield
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL


@pytest.mark.process
@pytest.mark.parametrize(("target", "nth"), list(KILL_POINTS))
def test_sigkill_at_each_step_keeps_the_store_loadable(
    root: Path, tmp_path: Path, target: str, nth: int
) -> None:
    store = seed_store(root)
    with killed_after("PAUSED", tmp_path, PAUSING_PUBLISHER, str(root), target, str(nth)):
        pass

    expected_versions, expected_current = KILL_POINTS[(target, nth)]
    assert store.versions("m") == expected_versions
    assert store.current_version("m") == expected_current
    assert_store_healthy(store)
    assert store.load("m", 1).meta["attempt"] == 1
    if expected_current == 1:
        assert np.array_equal(store.load("m").arrays["w"], np.full(100_000, 1.0))

    # The killed publisher held the lock; the kernel released it, so this does not hang.
    next_version = store.publish("m", {"w": np.zeros(3)}, {"attempt": 3})
    assert next_version == expected_versions[-1] + 1
    assert store.load("m").version == next_version


@pytest.mark.process
@pytest.mark.parametrize("nth", list(S3_KILL_POINTS))
def test_sigkill_before_each_write_to_a_bucket_keeps_the_store_loadable(
    s3_raw: S3Raw, tmp_path: Path, nth: int
) -> None:
    store = seed_store(s3_raw.location)
    with killed_after("PAUSED", tmp_path, S3_PAUSING_PUBLISHER, s3_raw.location, str(nth)):
        pass

    versions, current, history = S3_KILL_POINTS[nth]
    assert store.versions("m") == versions
    assert store.current_version("m") == current
    assert store.promoted_versions("m") == history
    assert_store_healthy(store)
    assert store.load("m", 1).meta["attempt"] == 1

    next_version = store.publish("m", {"w": np.zeros(3)}, {"attempt": 3})
    assert next_version == versions[-1] + 1
    assert store.load("m").version == next_version
    assert store.promoted_versions("m") == [next_version, *history]


@pytest.mark.process
@pytest.mark.parametrize("published", [1, 2, 4])
def test_sigkill_while_publishing_in_a_loop_keeps_the_store_loadable(
    raw: FsRaw | S3Raw, tmp_path: Path, published: int
) -> None:
    store = seed_store(raw.location)
    with killed_after("READY", tmp_path, LOOPING_PUBLISHER, raw.location):
        # Killed once this many more versions exist: mid-promotion or mid-write of the next.
        wait_until(lambda: len(store.versions("m")) > published, 60, 0.01, "new versions")

    assert_store_healthy(store)
    latest = store.versions("m")[-1]
    for version in store.versions("m")[1:]:
        artifact = store.load("m", version)
        assert np.array_equal(artifact.arrays["w"], np.full(500_000, float(artifact.meta["n"])))
    assert store.publish("m", {"w": np.zeros(3)}, {}) == latest + 1
    assert store.current_version("m") == latest + 1
