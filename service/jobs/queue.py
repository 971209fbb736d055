"""Training jobs: the Huey queue that wakes a trainer, and their records beside it.

SQLite in the data directory by default; Redis when NNS_REDIS_URL is set. Every API worker and
every trainer reads the same records, so all of them give the same answer. A record changes
only through a transition of service.jobs.state, written compare-and-set (service.jobs.records);
a queue message only says "look at job <id>", so a lost or duplicate message does no harm.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.exceptions import HueyException
from huey.registry import Message
from huey.serializer import Serializer

from ..settings import Settings
from ..training.request import TrainRequest
from .records import records_for
from .state import TERMINAL, Conflict, JobProgress, StoredJob, apply, now

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
BACKEND_ERRORS = (RedisError, sqlite3.Error, OSError)
CAS_TRIES = 100  # a write that loses this many races in a row is a bug, not contention


class QueueUnavailable(Exception):
    """The queue backend cannot be reached; the message says which and why."""


class JobFinished(Exception):
    """The job already ended, or is publishing its result: it cannot be cancelled."""


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


def _pack(request: TrainRequest) -> bytes:
    return request.model_dump_json().encode()


def _unpack(blob: bytes) -> TrainRequest:
    return TrainRequest.model_validate_json(blob)


class JobQueue:
    """Submit, read and cancel jobs (the API); claim, beat, publish and end them (the trainer)."""

    def __init__(self, huey: Huey, settings: Settings) -> None:
        self.huey, self.settings = huey, settings
        # Huey's task only names the message; the trainer's loop runs the jobs (see _not_here).
        self.message_task = huey.task(name="nns.train")(_not_here)
        self.records = self._io(records_for, huey)
        self.stopping = threading.Event()  # set when the trainer shuts down

    @classmethod
    def from_settings(cls, settings: Settings) -> JobQueue:
        return cls(make_huey(settings), settings)

    def _io(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call the backend; turn its connection errors into QueueUnavailable."""
        try:
            return fn(*args)
        except BACKEND_ERRORS as exc:
            where = "Redis" if self.settings.redis_url else f"SQLite {self.settings.queue_path}"
            raise QueueUnavailable(f"cannot reach the job queue ({where}: {exc})") from None

    def _read(self, job_id: str) -> StoredJob | None:
        return self._io(self.records.read, job_id)

    def _message(self, job_id: str) -> bytes:
        return self.huey.serialize_task(self.message_task.s(job_id))

    def _write(self, new: StoredJob, expected: int) -> bool:
        """Compare-and-set `new`; a job that becomes queued gets its message in the same step."""
        message = self._message(new.job_id) if new.status == "queued" else None
        return self._io(self.records.write, new, expected, message)

    def _change(self, job_id: str, name: str, holder: str | None = None, /, **changes) -> StoredJob:
        """Apply transition `name` to the job as stored now; retry when another write won.

        `changes` values may be functions of the current job. Raises Conflict (or KeyError for
        an unknown job) when the transition does not apply.
        """
        for _ in range(CAS_TRIES):
            job = self._read(job_id)
            if job is None:
                raise KeyError(job_id)
            values = {k: v(job) if callable(v) else v for k, v in changes.items()}
            new = apply(job, name, holder, **values)
            if self._write(new, job.rev):
                return new
        raise RuntimeError(f"job {job_id}: {name} lost {CAS_TRIES} races in a row")

    # -- API side ---------------------------------------------------------------------------

    def submit(self, request: TrainRequest) -> dict:
        """Store the record, its request and its message in one step: all of them or nothing."""
        job_id = uuid.uuid4().hex
        progress = JobProgress(epoch=0, epochs=request.hyperparameters.epochs, loss=None)
        job = StoredJob(
            job_id=job_id,
            status="queued",
            model=request.model,
            promote=request.promote,
            progress=progress,
            created_at=now(),
        )
        self._io(self.records.create, job, _pack(request), self._message(job_id))
        return job.public()

    def get(self, job_id: str) -> dict | None:
        """Return the job's record as stored; reading never changes it."""
        job = self._read(job_id)
        return None if job is None else job.public()

    def cancel(self, job_id: str) -> dict | None:
        """Cancel a queued job now, or ask the trainer to stop a running one before it publishes."""
        for _ in range(CAS_TRIES):
            job = self._read(job_id)
            if job is None:
                return None
            if job.status in TERMINAL:
                raise JobFinished(f"job already {job.status}")
            if job.status == "running" and job.cancel_requested:
                return job.public()
            try:
                if job.status == "queued":
                    new = apply(job, "cancel", error="cancelled before it started")
                else:
                    new = apply(job, "request_cancel", cancel_requested=True)
            except Conflict as exc:  # publishing: too late
                raise JobFinished(str(exc)) from None
            if self._write(new, job.rev):
                return new.public()
        raise RuntimeError(f"job {job_id}: cancel lost {CAS_TRIES} races in a row")

    def recent(self, limit: int) -> list[dict]:
        """Return the last `limit` jobs submitted, newest first, as GET /train/jobs shows them."""
        return [job.public() for job in self._io(self.records.recent, limit)]

    def pending(self) -> int:
        """Return how many messages wait in the queue."""
        return self._io(self.huey.pending_count)

    def counts(self) -> dict[str, int]:
        """Return the number of jobs submitted so far and ended by each outcome."""
        return self._io(self.records.counts)

    # -- trainer side: `holder` names the trainer run that claimed the job -------------------

    def claim(self, job_id: str, holder: str) -> tuple[StoredJob, TrainRequest] | None:
        """Mark a queued job running for `holder`; return it with its request, None if it must
        not run (not queued any more, unknown, or its request unreadable: then it fails)."""
        try:
            job = self._change(
                job_id,
                "claim",
                claim=holder,
                attempts=lambda j: j.attempts + 1,
                started_at=now(),
                heartbeat_at=now(),
                progress=lambda j: {"epoch": 0, "epochs": j.progress.epochs, "loss": None},
                error=None,
            )
        except (KeyError, Conflict) as exc:
            log.info("skipping a message", extra={"job_id": job_id, "reason": str(exc)})
            return None
        try:
            request = _unpack(self._io(self.records.input, job_id))
        except QueueUnavailable:
            raise
        except Exception:  # missing or not ours: fail the job rather than leave it running
            error = "the job's input data is missing or unreadable"
            self._change(job_id, "fail", holder, error=error)
            return None
        return job, request

    def beat(self, job_id: str, holder: str, progress: dict | None) -> StoredJob:
        """Record a heartbeat (and progress); return the job, which says if a cancel was asked."""
        changes = {"heartbeat_at": now()} | ({"progress": progress} if progress else {})
        return self._change(job_id, "beat", holder, **changes)

    def begin_publish(self, job_id: str, holder: str) -> StoredJob:
        """Pass the point of no return: from here a cancel is refused. Conflict if too late."""
        return self._change(job_id, "publish", holder, publishing=True)

    def end(self, job_id: str, holder: str, name: str, /, **changes) -> StoredJob:
        """Apply the holder's last transition: succeed, fail, stop or hand_back."""
        return self._change(job_id, name, holder, **changes)

    # -- reaper side: transitions from a snapshot, applied only if nothing wrote since -------

    def open_jobs(self) -> list[StoredJob]:
        return self._io(self.records.open_jobs)

    def settle(self, job: StoredJob, name: str, /, **changes) -> StoredJob | None:
        """Apply a reaper transition to `job` as it was read; None if it changed since."""
        new = apply(job, name, **changes)
        return new if self._write(new, job.rev) else None

    def take(self) -> str | None:
        """Take the next message off the queue; return its job id (None: the queue is empty).

        Raises ValueError for a message that is not ours (it is dropped).
        """
        try:
            task = self._io(self.huey.dequeue)
        except (HueyException, TypeError) as exc:
            raise ValueError(f"unreadable message: {exc}") from None
        if task is None:
            return None
        job_id = str(task.args[0]) if task.args else ""
        if not JOB_ID.match(job_id):
            raise ValueError("a message without a job id")
        return job_id

    def wake(self, job_id: str) -> None:
        """Put another message for the job in the queue (a duplicate is skipped by the claim)."""
        self._io(self.message_task, job_id)

    def messages(self) -> set[str]:
        """Return the ids of the jobs with a message waiting in the queue."""
        raw = self._io(self.huey.storage.enqueued_items)
        ids = set()
        for data in raw:
            try:
                ids.add(str(self.huey.serializer.deserialize(data).args[0]))
            except (ValueError, TypeError, IndexError):  # not ours: skipped by the trainer too
                continue
        return ids


def _not_here(job_id: str) -> None:
    raise RuntimeError("training jobs are run by the trainer's loop, not by Huey")
