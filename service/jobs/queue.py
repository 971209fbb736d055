"""Training jobs: the Huey queue they travel on, and their state, kept in that queue's own store.

SQLite in the data directory by default; Redis when NNS_REDIS_URL is set. Every API worker and
every trainer reads and writes the same records, so all of them give the same answer.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson
from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.registry import Message
from huey.serializer import Serializer

from ..data.dataset import Dataset
from ..settings import Settings
from ..training.spec import Hyperparameters

try:
    from redis import ConnectionPool
    from redis.exceptions import RedisError
except ImportError:  # the redis extra is only needed with NNS_REDIS_URL
    ConnectionPool = None

    class RedisError(Exception):
        pass


log = logging.getLogger("service.jobs.queue")

QUEUE = "nns"
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
OUTCOMES = ("queued", "succeeded", "failed", "cancelled")
POLL_MAX = 0.5  # longest a SQLite trainer sleeps between looks at an empty queue, in seconds
BACKEND_ERRORS = (RedisError, sqlite3.Error, OSError)


Runner = Callable[["JobQueue", str], None]  # the trainer's job body: (queue, job_id)


class QueueUnavailable(Exception):
    """The queue backend cannot be reached; the message says which and why."""


class JobFinished(Exception):
    """The job already reached a final state and cannot be cancelled."""


class JsonSerializer(Serializer):
    """Serialize task messages as JSON: whoever can write to Redis must not feed us a pickle."""

    def _serialize(self, data) -> bytes:
        plain = isinstance(data, Message) and data.on_complete is data.on_error is None
        if not plain or data.eta or data.expires or data.chord_config:
            raise TypeError("only plain task messages go through the training queue")
        return orjson.dumps(list(data))

    def _deserialize(self, data: bytes) -> Message:
        message = Message(*orjson.loads(data))
        return message._replace(args=tuple(message.args or ()))


@dataclass(frozen=True)
class JobSpec:
    """What to train: the model name, how, and the wall-clock budget in seconds."""

    model: str
    params: Hyperparameters
    promote: str  # the promotion policy: auto, always or never
    source: str
    timeout: float
    task: str = "auto"
    excluded: tuple[str, ...] = ()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def age(stamp: str) -> float:
    """Return the seconds since an ISO timestamp written by `now()`."""
    return (datetime.now(UTC) - datetime.fromisoformat(stamp)).total_seconds()


def make_huey(settings: Settings) -> Huey:
    """Open the queue the settings name: Redis when NNS_REDIS_URL is set, else SQLite."""
    common = {"results": False, "serializer": JsonSerializer()}
    if settings.redis_url:
        if ConnectionPool is None:
            raise QueueUnavailable("NNS_REDIS_URL is set but redis is not installed")
        # Fail fast when Redis is down: a request must not hang, and the trainer polls again.
        pool = ConnectionPool.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=5
        )
        return RedisHuey(QUEUE, connection_pool=pool, read_timeout=1, **common)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(QUEUE, filename=str(settings.queue_path), timeout=5, **common)
    except BACKEND_ERRORS as exc:
        where = settings.queue_path
        raise QueueUnavailable(f"cannot open the SQLite queue {where}: {exc}") from None


def _pack(spec: JobSpec, data: Dataset) -> bytes:
    head = {"model": spec.model, "params": spec.params.model_dump(), "promote": spec.promote}
    head |= {"source": spec.source, "timeout": spec.timeout, "task": spec.task}
    head |= {"excluded": list(spec.excluded)}
    out = io.BytesIO()
    raw = np.frombuffer(data.to_bytes(), np.uint8)
    np.savez(out, head=np.frombuffer(orjson.dumps(head), np.uint8), data=raw)
    return out.getvalue()


def _unpack(blob: bytes) -> tuple[JobSpec, Dataset]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
        head = orjson.loads(arrays["head"].tobytes())
        data = Dataset.from_bytes(arrays["data"].tobytes())
    params = Hyperparameters(**head["params"])
    spec = JobSpec(
        head["model"], params, head["promote"], head["source"], head["timeout"], head["task"],
        tuple(head["excluded"]),
    )  # fmt: skip
    return spec, data


class JobQueue:
    """Submit, read and cancel jobs; the trainer claims, updates and finishes them."""

    def __init__(self, huey: Huey, settings: Settings, runner: Runner | None = None) -> None:
        self.huey, self.settings, self.runner = huey, settings, runner
        self.storage = huey.storage
        self.stopping = threading.Event()  # set when the trainer shuts down
        self.task = huey.task(name="nns.train")(self._execute)

    @classmethod
    def from_settings(cls, settings: Settings, runner: Runner | None = None) -> JobQueue:
        """Open the queue; only the trainer passes a `runner`, API workers just enqueue."""
        return cls(make_huey(settings), settings, runner)

    def _execute(self, job_id: str) -> None:
        if self.runner is None:
            raise RuntimeError("this process only enqueues jobs; the trainer runs them")
        self.runner(self, job_id)

    def _io(self, fn, *args):
        """Call the backend; turn its connection errors into QueueUnavailable."""
        try:
            return fn(*args)
        except BACKEND_ERRORS as exc:
            where = "Redis" if self.settings.redis_url else f"SQLite {self.settings.queue_path}"
            raise QueueUnavailable(f"cannot reach the job queue ({where}: {exc})") from None

    def _read(self, job_id: str) -> tuple[dict | None, bool]:
        """Return (record or None, whether a cancel was requested) in one round trip."""
        found = self._io(self.storage.peek_many, [f"job:{job_id}", f"job:{job_id}:cancel"])
        raw = found.get(f"job:{job_id}")
        return (orjson.loads(raw) if raw else None), f"job:{job_id}:cancel" in found

    def save(self, record: dict) -> None:
        stored = {k: v for k, v in record.items() if k != "cancel_requested"}  # derived on read
        self._io(self.storage.put_data, f"job:{record['job_id']}", orjson.dumps(stored))

    def _count_once(self, job_id: str, outcome: str) -> None:
        # Several processes may notice the same end (a stale job); only the first one counts it.
        if self._io(self.storage.put_if_empty, f"job:{job_id}:outcome", outcome.encode()):
            self._io(self.storage.incr, f"count:{outcome}")

    # -- API side ---------------------------------------------------------------------------

    def submit(self, spec: JobSpec, data: Dataset) -> dict:
        """Store the job's input and record, then queue it; nothing stays queued on failure."""
        job_id = uuid.uuid4().hex
        progress = {"epoch": 0, "epochs": spec.params.epochs, "loss": None}
        record = {"job_id": job_id, "status": "queued", "model": spec.model}
        record |= {"promote": spec.promote, "progress": progress, "result": None, "error": None}
        record |= {"created_at": now(), "started_at": None, "finished_at": None}
        record |= {"heartbeat_at": None}
        self._io(self.storage.put_data, f"job:{job_id}:input", _pack(spec, data))
        try:
            self.save(record)
            self._io(self.task, job_id)
        except QueueUnavailable:
            # Best-effort cleanup while the backend is down; a leftover record has no task.
            for key in (f"job:{job_id}", f"job:{job_id}:input"):
                with contextlib.suppress(*BACKEND_ERRORS):
                    self.storage.delete_data(key)
            raise
        self._io(self.storage.incr, "count:queued")
        return record

    def get(self, job_id: str) -> dict | None:
        """Return the job's record, reporting a running job whose trainer went silent as failed."""
        record, cancel = self._read(job_id)
        if record is None:
            return None
        beat = record.get("heartbeat_at") or record.get("started_at")
        if record["status"] == "running" and beat and age(beat) > self.settings.job_stale_after:
            reason = (
                f"the trainer stopped sending heartbeats {age(beat):.0f} s ago (it was killed "
                "or lost); the job did not finish: submit it again"
            )
            record = self.finish(record, "failed", error=reason)
        record["cancel_requested"] = cancel and record["status"] not in TERMINAL
        return record

    def cancel(self, job_id: str) -> dict | None:
        """Cancel a queued job now, or ask the trainer to stop a running one."""
        record = self.get(job_id)
        if record is None:
            return None
        if record["status"] in TERMINAL:
            raise JobFinished(f"job already {record['status']}")
        self._io(self.storage.put_data, f"job:{job_id}:cancel", b"1")
        if record["status"] == "queued":
            return self.finish(record, "cancelled", error="cancelled before it started")
        return {**record, "cancel_requested": True}

    def pending(self) -> int:
        """Return how many jobs wait in the queue."""
        return self._io(self.huey.pending_count)

    def counts(self) -> dict[str, int]:
        """Return the number of jobs queued so far and ended by each outcome."""
        return {o: self._io(self.storage.incr, f"count:{o}", 0) for o in OUTCOMES}

    # -- trainer side -----------------------------------------------------------------------

    def claim(self, job_id: str) -> tuple[dict, JobSpec, Dataset] | None:
        """Mark a queued job running and return it with its input; None when it must not run."""
        record, cancel = self._read(job_id)
        if record is None or record["status"] != "queued":
            log.warning("skipping job", extra={"job_id": job_id, "record": record})
            return None
        if cancel:
            self.finish(record, "cancelled", error="cancelled before it started")
            return None
        blob = self._io(self.storage.peek_data, f"job:{job_id}:input")
        try:
            spec, data = _unpack(blob)
        except Exception:  # EmptyData or bytes not ours: fail the job rather than leave it queued
            self.finish(record, "failed", error="the job's input data is missing or unreadable")
            return None
        record |= {"status": "running", "started_at": now(), "heartbeat_at": now()}
        self.save(record)
        return record, spec, data

    def cancel_requested(self, job_id: str) -> bool:
        return self._read(job_id)[1]

    def finish(self, record: dict, status: str, *, result=None, error=None) -> dict:
        """Write a final state, count it once, and drop the job's input."""
        record = {**record, "status": status, "result": result, "error": error}
        record["finished_at"] = now()
        self.save(record)
        self._count_once(record["job_id"], status)
        for key in ("input", "cancel"):
            self._io(self.storage.delete_data, f"job:{record['job_id']}:{key}")
        return record

    def requeue(self, record: dict) -> None:
        """Put an interrupted job back in the queue, input kept, to run from the start."""
        progress = {**record["progress"], "epoch": 0, "loss": None}
        self.save({**record, "status": "queued", "progress": progress, "started_at": None})
        self._io(self.task, record["job_id"])
