"""Train the default model once when the store has none: `python -m service.training.bootstrap`."""

from __future__ import annotations

import fcntl
import logging
import os
import sys
from pathlib import Path

from model_store import open_store

from ..data import datasets
from ..settings import Settings, get_settings
from .pipeline import run
from .request import TrainRequest

log = logging.getLogger("service.training.bootstrap")


class DataDirNotWritable(RuntimeError):
    """The data directory cannot be created or written by this process's user."""

    def __init__(self, data_dir: Path, error: OSError) -> None:
        self.path = os.path.abspath(error.filename or data_dir)
        self.data_dir = os.path.abspath(data_dir)
        self.uid, self.gid = os.getuid(), os.getgid()
        self.reason = error.strerror or str(error)
        super().__init__(
            f"cannot write {self.path}: {self.reason}; NNS_DATA_DIR {self.data_dir} must be "
            f"writable by uid {self.uid} (gid {self.gid}); for a bind mount, chown the host "
            "directory to that uid"
        )


def ensure_default_model(settings: Settings) -> int | None:
    """Publish the default model from its built-in dataset if the store lacks it.

    Returns the new version, or None when the model already existed. Only the built-in
    datasets can seed a model; another default model name must be trained explicitly.
    Raises DataDirNotWritable when the data directory (which holds the lock) is not writable.
    """
    name = settings.default_model
    if name is None:
        return None  # the store's own models: nothing to seed
    store = open_store(settings.store_root)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(settings.data_dir / ".bootstrap.lock", "w")  # noqa: SIM115 - closed below
    except OSError as exc:  # e.g. a bind-mounted host directory the service's uid cannot write
        raise DataDirNotWritable(settings.data_dir, exc) from None
    # Several starters (API, trainer, compose replicas) may race: one trains, the rest wait.
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if name in store.list_models():
            return None
        if name not in datasets.BUILTIN:
            raise SystemExit(
                f"default model {name!r} is not in {settings.store_root} and has no built-in "
                "dataset: train it with nns-train first"
            )
        # promote always: the first version of the default model
        request = TrainRequest(model=name, dataset=name, promote="always")
        return run(request, store).version


def main() -> int:
    settings = get_settings()
    try:
        version = ensure_default_model(settings)
    except DataDirNotWritable as exc:
        print(exc, file=sys.stderr)
        return 1
    if version is None:
        print(f"model {settings.default_model!r} already in {settings.store_root}")
    else:
        print(f"trained {settings.default_model!r} version {version} into {settings.store_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
