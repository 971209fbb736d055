"""Crash safety: a publisher killed with SIGKILL at any point leaves a loadable store."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from model_store import ModelStore

from .conftest import child_command, child_env

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

# Publishes big artifacts back to back until killed at an arbitrary instant.
LOOPING_PUBLISHER = """
import sys
import numpy as np
from model_store import ModelStore

store = ModelStore(sys.argv[1])
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


def seed_store(root: Path) -> ModelStore:
    """Publish version 1 of model 'm' and return the store."""
    store = ModelStore(root)
    store.publish("m", {"w": np.full(100_000, 1.0)}, {"attempt": 1})
    return store


def assert_store_healthy(store: ModelStore) -> None:
    """Assert every listed version and the current one load and verify."""
    for version in store.versions("m"):
        assert store.load("m", version).version == version
    current = store.load("m")
    assert current.version in store.versions("m")
    assert store.pointer_state() == {"m": current.version}


@pytest.mark.process
@pytest.mark.parametrize(("target", "nth"), list(KILL_POINTS))
def test_sigkill_at_each_step_keeps_the_store_loadable(
    root: Path, tmp_path: Path, target: str, nth: int
) -> None:
    store = seed_store(root)
    child = subprocess.Popen(
        child_command(PAUSING_PUBLISHER, str(root), target, str(nth)),
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=tmp_path,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "PAUSED", "hook point was never reached"
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL

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
@pytest.mark.parametrize("delay", [0.05, 0.23, 0.41])
def test_sigkill_at_arbitrary_instants_keeps_the_store_loadable(
    root: Path, tmp_path: Path, delay: float
) -> None:
    store = seed_store(root)
    child = subprocess.Popen(
        child_command(LOOPING_PUBLISHER, str(root)),
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=tmp_path,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY"
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)

    assert_store_healthy(store)
    latest = store.versions("m")[-1]
    for version in store.versions("m")[1:]:
        artifact = store.load("m", version)
        assert np.array_equal(artifact.arrays["w"], np.full(500_000, float(artifact.meta["n"])))
    assert store.publish("m", {"w": np.zeros(3)}, {}) == latest + 1
    assert store.current_version("m") == latest + 1
