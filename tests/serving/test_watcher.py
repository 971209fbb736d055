"""The watcher thread: it loads what changed off the request path and outlives failed looks."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading

import numpy as np

from model_store import ModelStore, StoreError
from service.serving.registry import Registry
from tests.support.harness import ROOT, wait_until
from tests.support.training import train

ROW = {"smoking": 0, "obesity": 1, "exercise": 0}


class StoreSpy:
    """A real store that records which thread called which of its methods."""

    def __init__(self, store: ModelStore) -> None:
        self._store = store
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str):
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            self.calls.append((threading.current_thread().name, name))
            return attr(*args, **kwargs)

        return call


def served(client) -> int:
    resp = client.post("/predict", json=ROW)
    assert resp.status_code == 200, resp.json
    return resp.json["version"]


def test_the_watcher_loads_a_promotion_without_any_request(store):
    registry = Registry(store, max_batch=10, reload_interval=0.05)
    registry.refresh()
    registry.watch()
    taken = registry.get("diabetes")  # what a request in flight holds
    train(store, epochs=50)  # version 2, promoted
    wait_until(lambda: registry.current["diabetes"].version == 2, 10, what="the watcher")
    # The request that took version 1 keeps it, whole, until it is done with it.
    assert taken.version == 1 and registry.get("diabetes") is not taken
    X = np.array([[0.0, 1.0, 0.0]])
    assert taken.predictions(X)[0]["label"] == 1
    registry.close()


def test_requests_never_touch_the_store_while_the_watcher_loads(app, client, store):
    registry = app.extensions["nns.registry"]
    registry.store = spy = StoreSpy(store)
    assert served(client) == 1
    publisher = threading.Thread(target=train, args=(store,), kwargs={"epochs": 50})
    publisher.start()
    versions = {served(client) for _ in range(50)}
    publisher.join()
    wait_until(lambda: served(client) == 2, 10, what="version 2 to be served")
    assert versions <= {1, 2}
    callers = {thread for thread, _ in spy.calls}
    assert callers == {"nns-store-watcher"}, spy.calls
    assert ("nns-store-watcher", "load") in spy.calls  # it loaded version 2 itself


def test_the_watcher_outlives_failed_looks(store, caplog):
    registry = Registry(store, max_batch=10, reload_interval=0.05)
    registry.refresh()
    looks = []

    def failing() -> None:
        looks.append(1)
        if len(looks) % 2:
            raise RuntimeError("a bug in one look")  # not a StoreError: unexpected
        raise StoreError("object storage unreachable: EndpointConnectionError")

    real, registry.store.pointers = registry.store.pointers, failing
    registry.watch()
    wait_until(lambda: len(looks) >= 4, 10, what="four failed looks")
    train(store, epochs=50)
    assert registry.current["diabetes"].version == 1  # still serving what it had
    registry.store.pointers = real
    wait_until(lambda: registry.current["diabetes"].version == 2, 10, what="the next good look")
    assert registry._watcher is not None and registry._watcher.is_alive()
    assert "model store look failed" in caplog.text and "model store poll failed" in caplog.text
    registry.close()
    wait_until(lambda: not registry._watcher.is_alive(), 5, what="the watcher to stop")


def test_a_watcher_ends_when_its_registry_is_dropped(store):
    registry = Registry(store, max_batch=10, reload_interval=0.05)
    registry.watch()
    watcher = registry._watcher
    del registry
    gc.collect()
    wait_until(lambda: not watcher.is_alive(), 5, what="the watcher to end")


def test_a_watcher_that_is_not_running_is_started_again_by_the_next_request(app, client):
    registry = app.extensions["nns.registry"]
    first = registry._watcher
    first.stop()  # as after a fork (threads do not survive one) or a crash of the thread
    wait_until(lambda: not first.is_alive(), 5, what="the watcher to stop")
    assert served(client) == 1
    assert registry._watcher is not first and registry._watcher.is_alive()


# A parent whose watcher is in the middle of a look forks (gunicorn with preload_app, say):
# the child must start its own watcher and look, not wait on the parent's lock forever.
FORKING = """
import os, sys, threading
from model_store import ModelStore
from service.serving.registry import Registry

store = ModelStore(sys.argv[1])
registry = Registry(store, max_batch=10, reload_interval=0.05)
registry.refresh()
looking, release, real = threading.Event(), threading.Event(), store.pointers

def slow_look():
    if os.getpid() == parent:
        looking.set()
        release.wait()
    return real()

parent = os.getpid()
store.pointers = slow_look
registry.watch()
looking.wait(10)
child = os.fork()
if child == 0:
    registry.watch()  # what the first request in the child does
    done = threading.Event()
    threading.Thread(target=lambda: (registry.refresh(), done.set()), daemon=True).start()
    print("CHILD LOOKED" if done.wait(10) else "CHILD STUCK", flush=True)
    os._exit(0)
os.waitpid(child, 0)
release.set()
"""


def test_a_forked_child_looks_even_if_the_parent_was_looking(store, tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", FORKING, str(store.root)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "CHILD LOOKED" in out.stdout, out.stdout
