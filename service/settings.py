"""One typed settings object, read once from `NNS_*` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service; each field is one `NNS_<NAME>` variable."""

    model_config = SettingsConfigDict(env_prefix="NNS_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        Path("data"), description="Directory for the model store, job queue and metrics files."
    )
    model_store: str | None = Field(
        None,
        description="Model store: a directory or s3://bucket/prefix (AWS_* variables give the "
        "endpoint and credentials); defaults to <data_dir>/models.",
    )
    default_model: str | None = Field(
        None,
        description="Model served by POST /predict, trained from its built-in data first when "
        "it is one (diabetes, xor, moons) and missing; unset: the store's only model. make "
        "serve and the image set diabetes.",
    )
    admin_token: SecretStr | None = Field(
        None,
        description="Bearer token for /train and PUT /models/{name}/current; unset disables them.",
    )
    redis_url: str | None = Field(
        None, description="Redis URL for the job queue; unset uses SQLite in <data_dir>."
    )
    reload_interval: float = Field(
        1.0, ge=0.05, le=3600, description="Seconds between checks for a new CURRENT version."
    )
    max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )
    max_score_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024,
        description="Largest CSV body a predict route scores (413 above); it is streamed, not "
        "held in memory, but must be scored within NNS_TIMEOUT (about 140,000 rows a second).",
    )
    max_batch: int = Field(10_000, ge=1, description="Most instances in one predict request.")
    strict_categories: bool = Field(
        False,
        description="Refuse (422) a binary or categorical value never seen in training, instead "
        "of scoring it at the training average with a warning; ?strict= overrides per request.",
    )
    max_train_rows: int = Field(100_000, ge=1, description="Most rows in one training request.")
    max_epochs: int = Field(100_000, ge=1, description="Most epochs in one training request.")
    max_layer_width: int = Field(
        256, ge=1, description="Widest hidden layer a request may ask for."
    )
    max_layers: int = Field(8, ge=0, description="Most hidden layers a request may ask for.")
    job_timeout: float = Field(
        600.0, gt=0, description="Wall-clock budget of one training job, in seconds."
    )
    job_heartbeat: float = Field(
        1.0, gt=0, le=60, description="Seconds between the heartbeats of a running job."
    )
    job_stale_after: float = Field(
        5.0,
        gt=0,
        description="A trainer's reaper settles a running job whose heartbeat it has seen "
        "unchanged this long (its trainer was killed or lost).",
    )
    job_max_requeues: int = Field(
        2, ge=0, description="Times a job whose trainer was lost is re-queued before it fails."
    )
    trainer_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU niceness the trainer runs at (0 to 19), so training on the API's host "
        "yields CPU to predictions; raising it needs no privilege. It weighs the trainer against "
        "processes of its own container; between containers their CPU shares decide (compose "
        "gives the trainer 256).",
    )
    trainer_alive_file: Path = Field(
        Path("/tmp/nns-trainer.alive"),
        description="File the trainer touches while alive; `nns-trainer --check` reads it.",
    )
    log_level: str = Field("INFO", description="Python logging level for the JSON logs.")
    bind: str = Field("127.0.0.1:8000", description="Address gunicorn listens on.")
    workers: int = Field(2, ge=1, le=64, description="gunicorn worker processes.")
    threads: int = Field(1, ge=1, le=64, description="Threads per worker (1 = sync workers).")
    timeout: int = Field(30, ge=1, description="gunicorn worker timeout, in seconds.")

    @field_validator("model_store", mode="before")
    @classmethod
    def _path_as_text(cls, value: object) -> object:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @property
    def store_root(self) -> str:
        """Where the model store is, for model_store.open_store: a directory or an s3:// URL."""
        return self.model_store or str(self.data_dir / "models")

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def token(self) -> str | None:
        return self.admin_token.get_secret_value() if self.admin_token else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment once."""
    return Settings()


# The settings that bound a request or a job: README lists them once, in its limits table.
LIMITS = frozenset(
    {n for n in Settings.model_fields if n.startswith("max_")} | {"job_timeout", "timeout"}
)


def markdown_table() -> str:
    """Return the README's settings table (limits have their own): variable, default, meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if name in LIMITS:
            continue
        default = "unset" if field.default is None else f"`{field.default}`"
        lines.append(f"| `NNS_{name.upper()}` | {default} | {field.description} |")
    return "\n".join(lines)
