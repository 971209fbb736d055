"""Shared fixtures and helpers for the model_store tests.

Contract tests take the `store` fixture and run once per backend: a directory, and a fresh
bucket on a real moto S3 server process started once per session. `raw` reaches behind the
store's back (to damage or inspect what it wrote) in the backend's own terms.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import model_store
from model_store import ModelStore, Store, open_store
from tests.support.s3_servers import S3Server, start_moto

REPO_ROOT = Path(model_store.__file__).resolve().parents[1]
BACKENDS = ["fs", "s3"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Return a store root that does not exist yet."""
    return tmp_path / "store"


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """Run moto's S3 server for the whole session."""
    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def s3_env(moto_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Point this process's AWS variables at the moto server; return them."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    env = moto_server.env(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


class FsRaw:
    """Files of a filesystem store, addressed by path parts under its root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def read(self, *parts: str) -> bytes:
        return self.root.joinpath(*parts).read_bytes()

    def write(self, data: bytes, *parts: str) -> None:
        self.root.joinpath(*parts).write_bytes(data)

    def delete(self, *parts: str) -> None:
        self.root.joinpath(*parts).unlink()

    def pointer(self, model: str) -> tuple[str, ...]:
        return (model, "CURRENT")

    def weights(self, model: str, version: int) -> tuple[str, ...]:
        return (model, str(version), "weights.npz")

    def attachment(self, model: str, version: int, filename: str) -> tuple[str, ...]:
        return (model, str(version), filename)

    def replace_weights(self, model: str, version: int, data: bytes) -> None:
        """Store data as a version's weights, with model.json's checksums made to agree."""
        self.write(data, *self.weights(model, version))
        _resign_weights(self, model, version, data)

    def copy_version(self, model: str, source: int, target: int) -> None:
        shutil.copytree(self.root / model / str(source), self.root / model / str(target))

    def is_empty(self) -> bool:
        return not self.root.exists() or not any(self.root.iterdir())


class S3Raw:
    """Objects of an S3 store, addressed by key parts under its prefix."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.location = f"s3://{bucket}/{prefix}"

    def key(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts))

    def read(self, *parts: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.key(*parts))["Body"].read()

    def write(self, data: bytes, *parts: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(*parts), Body=data)

    def delete(self, *parts: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(*parts))

    def pointer(self, model: str) -> tuple[str, ...]:
        return (f"{model}.CURRENT",)  # beside the model's folder, so one LIST sees them all

    def weights(self, model: str, version: int) -> tuple[str, ...]:
        doc = json.loads(self.read(model, str(version), "model.json"))
        return (model, "blobs", doc["weights_sha256"])

    def attachment(self, model: str, version: int, filename: str) -> tuple[str, ...]:
        doc = json.loads(self.read(model, str(version), "model.json"))
        return (model, "blobs", doc["attachments"][filename])

    def replace_weights(self, model: str, version: int, data: bytes) -> None:
        """Store data as a version's weights, with model.json's checksums made to agree."""
        self.write(data, model, "blobs", hashlib.sha256(data).hexdigest())
        _resign_weights(self, model, version, data)

    def copy_version(self, model: str, source: int, target: int) -> None:
        for key in self.list_keys(model, str(source)):
            rest = key[len(self.key(model, str(source))) :]
            self.client.copy_object(
                Bucket=self.bucket,
                Key=self.key(model, str(target)) + rest,
                CopySource={"Bucket": self.bucket, "Key": key},
            )

    def list_keys(self, *parts: str) -> list[str]:
        """Return every key under the given parts (all of the store's without any)."""
        prefix = self.key(*parts) + "/" if parts else self.prefix + "/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return [item["Key"] for page in pages for item in page.get("Contents", ())]

    def is_empty(self) -> bool:
        return not self.client.list_objects_v2(Bucket=self.bucket).get("KeyCount", 0)


@pytest.fixture
def s3_raw(moto_server: S3Server, s3_env: dict, tmp_path: Path) -> S3Raw:
    """Return the raw view of a fresh bucket on the moto server, store prefix 'models'."""
    client = moto_server.client(tmp_path)
    return S3Raw(client, moto_server.new_bucket(client), "models")


@pytest.fixture(params=BACKENDS)
def raw(request: pytest.FixtureRequest, root: Path) -> FsRaw | S3Raw:
    """Return the raw view of a fresh, empty store of each backend."""
    if request.param == "fs":
        return FsRaw(root)
    return request.getfixturevalue("s3_raw")


@pytest.fixture
def store(raw: FsRaw | S3Raw) -> Store:
    """Return a store over a fresh root or bucket (once per backend)."""
    return open_store(raw.location)


@pytest.fixture
def s3_store(s3_raw: S3Raw) -> Store:
    """Return a store over a fresh bucket, for object-storage-only behaviour."""
    return open_store(s3_raw.location)


@pytest.fixture
def fs_store(root: Path) -> ModelStore:
    """Return a filesystem store over a fresh root, for filesystem-only behaviour."""
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


def edit_model_json(
    raw: FsRaw | S3Raw,
    version: int,
    mutate: Callable[[dict[str, Any]], None],
    *,
    resign: bool,
    model: str = "m",
) -> None:
    """Apply mutate to a version's model.json; with resign the meta_sha256 is recomputed."""
    doc = json.loads(raw.read(model, str(version), "model.json"))
    mutate(doc)
    if resign:
        doc["meta_sha256"] = canonical_digest(doc)
    raw.write(json.dumps(doc).encode(), model, str(version), "model.json")


def assert_each_writer_got_its_own_versions(
    store: Store, results: dict[str, list[int]], total: int, size: int
) -> None:
    """Assert the writers' versions are 1..total, each once, each holding what its writer wrote.

    Writer w's i-th publish of model 'm' had meta {"writer": f"{w}-{i}"} and w = full(size, i).
    """
    allocated = sorted(v for versions in results.values() for v in versions)
    assert allocated == list(range(1, total + 1))
    assert store.versions("m") == allocated
    for writer, versions in results.items():
        for i, version in enumerate(versions):
            artifact = store.load("m", version)
            assert artifact.meta["writer"] == f"{writer}-{i}"
            assert np.array_equal(artifact.arrays["w"], np.full(size, float(i)))


def _resign_weights(raw: FsRaw | S3Raw, model: str, version: int, weights: bytes) -> None:
    """Make model.json name these weights' digest, re-signed so only the weights can be blamed."""
    sha = hashlib.sha256(weights).hexdigest()
    edit_model_json(
        raw, version, lambda doc: doc.update(weights_sha256=sha), resign=True, model=model
    )


def child_env(**extra: str) -> dict[str, str]:
    """Return an environment in which a child interpreter can import model_store."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def child_command(script: str, *args: str) -> list[str]:
    """Return the argv that runs script in a fresh interpreter."""
    return [sys.executable, "-c", script, *args]


def spawn(script: str, *args: str, cwd: Path, **env: str) -> subprocess.Popen[str]:
    """Start script in a child interpreter with its standard output piped back as text."""
    return subprocess.Popen(
        child_command(script, *args),
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(**env),
        cwd=cwd,
    )
