"""Shared fixtures and helpers for the model_store tests."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import model_store
from model_store import ModelStore

REPO_ROOT = Path(model_store.__file__).resolve().parents[1]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Return a store root that does not exist yet."""
    return tmp_path / "store"


@pytest.fixture
def store(root: Path) -> ModelStore:
    """Return a store over a fresh root."""
    return ModelStore(root)


def sample_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Return a small set of weight arrays determined by seed."""
    rng = np.random.default_rng(seed)
    return {"W0": rng.normal(size=(4, 3)), "b0": rng.normal(size=3), "seed": np.array(seed)}


def sample_meta(**extra: Any) -> dict[str, Any]:
    """Return metadata shaped like what the trainer publishes."""
    meta: dict[str, Any] = {
        "features": ["a", "b", "c", "d"],
        "target": "y",
        "task": "classification",
        "architecture": {"layers": [4, 3], "activation": "relu"},
        "normalisation": {"mean": [0.5, 1.5, -2.0, 0.0], "std": [1.0, 2.0, 0.1, 3.0]},
        "hyperparameters": {"lr": 0.01, "epochs": 20},
        "metrics": {"accuracy": 0.9, "loss": 0.25},
    }
    meta.update(extra)
    return meta


def canonical_digest(doc: dict[str, Any]) -> str:
    """Compute meta_sha256 independently of the store, exactly as the format spec states."""
    body = {k: v for k, v in doc.items() if k != "meta_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def edit_model_json(path: Path, mutate: Callable[[dict[str, Any]], None], *, resign: bool) -> None:
    """Apply mutate to a model.json; with resign the meta_sha256 is recomputed to match."""
    doc = json.loads(path.read_text())
    mutate(doc)
    if resign:
        doc["meta_sha256"] = canonical_digest(doc)
    path.write_text(json.dumps(doc))


def child_env() -> dict[str, str]:
    """Return an environment in which a child interpreter can import model_store."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def child_command(script: str, *args: str) -> list[str]:
    """Return the argv that runs script in a fresh interpreter."""
    return [sys.executable, "-c", script, *args]
