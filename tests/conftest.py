"""Fixtures shared by every test: a trained store, the app and its client."""

from __future__ import annotations

import shutil
import threading

import pytest

from model_store import ModelStore
from service.serving.watcher import Watcher
from service.web.app import create_app
from tests.support.api import AUTH, TOKEN
from tests.support.training import train


@pytest.fixture(autouse=True)
def stop_store_watchers():
    """Stop the watcher threads of the apps a test built (they would look until collected)."""
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        if isinstance(thread, Watcher):
            thread.stop()


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory) -> ModelStore:
    """Diabetes v1 (current) and moons v1, trained once per session; copy it, don't change it."""
    s = ModelStore(tmp_path_factory.mktemp("template") / "models")
    train(s)
    train(s, "moons", "moons", hidden=[8], epochs=200)
    return s


@pytest.fixture
def store(tmp_path, trained_store) -> ModelStore:
    """A private copy of the trained store for one test."""
    shutil.copytree(trained_store.root, tmp_path / "models")
    return ModelStore(tmp_path / "models")


@pytest.fixture
def settings_dict(tmp_path, store) -> dict:
    return {
        "data_dir": tmp_path,
        "model_store": store.root,
        "admin_token": TOKEN,
        "default_model": "diabetes",  # as make serve and the image set it
        "max_batch": 50,
        "max_body_bytes": 64 * 1024,
        "reload_interval": 0.05,
    }


@pytest.fixture
def app(settings_dict):
    return create_app(settings_dict)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth() -> dict:
    return dict(AUTH)
