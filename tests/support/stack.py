"""One host's service: gunicorn (two workers) and a trainer on one data directory, with
diabetes v1 trained and the training limits the process tests submit against."""

from __future__ import annotations

from pathlib import Path

from model_store import ModelStore
from tests.support.api import TOKEN
from tests.support.harness import Gunicorn, Proc, start_trainer, stop_all
from tests.support.training import train

LIMITS = {
    "NNS_MAX_TRAIN_ROWS": "500",
    "NNS_MAX_EPOCHS": "200000",
    "NNS_MAX_LAYERS": "4",
    "NNS_MAX_LAYER_WIDTH": "64",
    "NNS_MAX_BODY_BYTES": str(256 * 1024),
}


class Stack:
    """gunicorn (two workers) and the trainer on one data directory, diabetes trained."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir, self.env = data_dir, {"NNS_ADMIN_TOKEN": TOKEN, **LIMITS, **env}
        self.store = ModelStore(data_dir / "models")
        train(self.store, epochs=300)
        self.api = Gunicorn(data_dir, data_dir / "gunicorn.log", workers=2, **self.env)
        self.starts = 0
        self.trainer: Proc | None = None
        try:
            self.trainer = self.start_trainer()
            self.api.wait_ready()
        except BaseException:
            self.stop()
            raise

    def start_trainer(self) -> Proc:
        self.starts += 1
        log = self.data_dir / f"trainer{self.starts}.log"
        return start_trainer(self.data_dir, log, **self.env)

    def stop(self) -> None:
        stop_all([self.trainer, self.api])
