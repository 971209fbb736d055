"""The trainer: `nns-trainer` (or `python -m service.jobs.trainer`) runs the queued training jobs.

It reads the same NNS_* settings as the API, takes one message at a time from the Huey queue,
claims the job it names and trains it with the same function as `nns-train`, sending a
heartbeat every NNS_JOB_HEARTBEAT seconds. A reaper thread settles the jobs of trainers that
went silent (service.jobs.reaper). SIGTERM or SIGINT stops it; a job it was running goes back
to the queue. `nns-trainer --check`, the container healthcheck, is service.jobs.command.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

from model_store import Published, Store, StoreError, open_store

from .. import logs
from ..settings import Settings
from ..training import pipeline
from ..training.plots import loss_curve_png
from ..training.request import TrainRequest
from .liveness import AliveFile, Outage
from .queue import JobQueue, QueueUnavailable
from .reaper import Reaper
from .state import Conflict, StoredJob

log = logging.getLogger("service.jobs.trainer")

PROGRESS_EVERY = 0.25  # seconds between progress writes and cancel checks (epochs can be µs)
TRAIL_POINTS = 128  # [epoch, loss] pairs a running job's record keeps for its curve
IDLE_WAIT = 0.5  # longest wait between looks at an empty SQLite queue, in seconds
STOP_PATIENCE = 20.0  # seconds a stopping trainer keeps trying to record a job's end


class Stop(Exception):
    """Raised inside training to end it early; `status` is how the job ends ("lost": not ours)."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class Run:
    """One claimed job in training: progress, heartbeat, and the reasons to stop it."""

    def __init__(self, trainer: Trainer, job: StoredJob, holder: str, budget: float) -> None:
        self.trainer, self.queue = trainer, trainer.queue
        self.job_id, self.holder, self.budget = job.job_id, holder, budget
        self.epochs = job.progress.epochs
        self.deadline = time.monotonic() + budget
        self.next_sync = 0.0
        self.latest: dict | None = None  # progress not written yet
        self.trail: list[tuple[int, float]] = []  # one point every `trail_step` epochs
        self.trail_step = 1
        self.cancel = False
        self.lost: str | None = None  # why the job is not ours any more
        self.lock = threading.Lock()  # one write at a time: the heartbeat thread shares the run
        self.done = threading.Event()

    def _beat(self) -> None:
        """Write heartbeat and progress; learn of a cancel request or of losing the job."""
        self.trainer.alive.touch()
        try:
            job = self.queue.beat(self.job_id, self.holder, self.latest)
        except Conflict as exc:
            self.lost = str(exc)
        except QueueUnavailable as exc:
            self.trainer.outage.failed(exc)  # keep training; the beat goes out when it is back
        else:
            self.trainer.outage.ok()
            self.latest, self.cancel = None, job.cancel_requested

    def progress(self, epoch: int, epochs: int, loss: float) -> None:
        """Note the epoch; raise Stop past the budget, on cancel, on shutdown, or if lost."""
        where = f"at epoch {epoch} of {epochs}; nothing was published"
        t = time.monotonic()
        if t > self.deadline:
            raise Stop("failed", f"the job ran past its budget of {self.budget:g} s {where}")
        if self.trainer.stopping.is_set():
            raise Stop("queued", "the trainer shut down")
        with self.lock:
            self.latest = {"epoch": epoch, "epochs": epochs, "loss": float(loss)}
            self.latest["trail"] = self.trail
            self._note(epoch, float(loss))
            if t >= self.next_sync:
                self.next_sync = t + PROGRESS_EVERY
                self._beat()
            if self.lost:
                raise Stop("lost", self.lost)
            if self.cancel:
                raise Stop("cancelled", f"cancelled {where}")

    def _note(self, epoch: int, loss: float) -> None:
        """Add epochs 1, 1 + step, 1 + 2 step... to the trail; past TRAIL_POINTS double the step
        and keep the points on it, so they stay evenly spaced from the first epoch."""
        if (epoch - 1) % self.trail_step:
            return
        self.trail.append((epoch, loss))
        if len(self.trail) > TRAIL_POINTS:
            self.trail_step *= 2
            self.trail[:] = [(e, v) for e, v in self.trail if (e - 1) % self.trail_step == 0]

    def heartbeat(self) -> None:
        """Beat every NNS_JOB_HEARTBEAT seconds, even while one epoch takes long."""
        while not self.done.wait(self.queue.settings.job_heartbeat):
            with self.lock:
                if not self.done.is_set() and not self.lost:
                    self._beat()

    def begin_publish(self) -> None:
        """Pass the point of no return, or raise Stop: cancelled, lost, or shutting down."""
        while True:
            with self.lock:
                try:
                    self.queue.begin_publish(self.job_id, self.holder)
                except Conflict as exc:
                    if exc.job.claim == self.holder and exc.job.cancel_requested:
                        reason = "cancelled after training; nothing was published"
                        raise Stop("cancelled", reason) from None
                    self.lost = str(exc)
                    raise Stop("lost", self.lost) from None
                except QueueUnavailable as exc:
                    wait = self.trainer.outage.failed(exc)
                else:
                    self.trainer.outage.ok()
                    return
            if self.trainer.stopping.wait(wait):
                raise Stop("queued", "the trainer shut down before publishing")


class GatedStore:
    """A model store that publishes only once the run passed the point of no return."""

    def __init__(self, store: Store, run: Run) -> None:
        self._store, self._run = store, run

    def __getattr__(self, name: str):
        return getattr(self._store, name)  # everything but publishing goes straight through

    def publish(self, *args, **kwargs) -> int:
        return self.publish_outcome(*args, **kwargs).version

    def publish_outcome(self, *args, **kwargs) -> Published:
        self._run.begin_publish()
        return self._store.publish_outcome(*args, **kwargs)


def _train(run: Run, request: TrainRequest) -> tuple[str, dict | None, str | None]:
    """Train and publish; return (status, result, error)."""
    settings = run.queue.settings
    try:
        out = pipeline.run(
            request, GatedStore(open_store(settings.store_root), run), progress=run.progress
        )
    except Stop as stop:
        return stop.status, None, stop.reason
    except (ValueError, StoreError) as exc:  # DatasetError is a ValueError
        return "failed", None, str(exc)
    except OSError as exc:  # the store's disk refused: read-only, full, permissions
        where = settings.store_root
        return "failed", None, f"cannot write to the model store {where}: {exc.strerror or exc}"
    except Exception as exc:
        log.exception("training failed", extra={"job_id": run.job_id})
        return "failed", None, f"training failed unexpectedly: {type(exc).__name__}: {exc}"
    result = {"model": out.model, "version": out.version, "promoted": out.promoted}
    result |= {"reason": out.reason, "metrics": out.metrics.model_dump(mode="json")}
    result |= {"baseline": out.baseline.model_dump(mode="json")}
    return "succeeded", result, None


END = {"succeeded": "succeed", "failed": "fail", "cancelled": "stop", "queued": "hand_back"}


class Trainer:
    """Takes messages, runs jobs, reaps others' silent jobs; one per process."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue, self.settings = queue, queue.settings
        self.stopping = queue.stopping
        self.outage = Outage(longest=min(4.0, self.settings.job_stale_after / 2))
        self.alive = AliveFile(self.settings.trainer_alive_file)
        self.held: set[str] = set()  # claims of this process's running jobs
        self.reaper = Reaper(queue, lambda: set(self.held))

    def run_job(self, job_id: str) -> str | None:
        """Claim the job and run it to its end; return how it ended (None: not run)."""
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held.add(holder)
        try:
            claimed = self.queue.claim(job_id, holder)
            if claimed is None:
                return None
            job, request = claimed
            budget = min(request.timeout or self.settings.job_timeout, self.settings.job_timeout)
            run = Run(self, job, holder, budget)
            beat = threading.Thread(target=run.heartbeat, name="heartbeat", daemon=True)
            beat.start()
            started = time.perf_counter()
            try:
                status, result, error = _train(run, request)
            finally:
                with run.lock:
                    run.done.set()
                beat.join()
            status = self._record_end(run, status, result, error)
        finally:
            self.held.discard(holder)
        extra = {"job_id": job_id, "model": request.model, "status": status, "error": error}
        log.info("job ended", extra={**extra, "seconds": round(time.perf_counter() - started, 3)})
        return status

    def _record_end(self, run: Run, status: str, result: dict | None, error: str | None) -> str:
        """Write the job's end, retrying while the queue is down: it is a fact (a version may
        be published). Return the status, "lost" if the job was taken from this trainer."""
        if status == "lost":
            log.warning("job taken from this trainer; dropped it", extra={"reason": error})
            return status
        changes: dict = {"result": result, "error": error}
        if run.latest:
            changes["progress"] = run.latest
        if status == "queued":  # handed back: the next attempt starts from scratch
            changes["progress"] = {"epoch": 0, "epochs": run.epochs, "loss": None}
            changes |= {"started_at": None, "heartbeat_at": None, "error": None}
        give_up = None
        while True:
            try:
                self.queue.end(run.job_id, run.holder, END[status], **changes)
            except Conflict as exc:
                log.warning(
                    "job taken from this trainer before its end was recorded",
                    extra={"job_id": run.job_id, "wanted": status, "reason": str(exc)},
                )
                return "lost"
            except QueueUnavailable as exc:
                wait = self.outage.failed(exc)
                if self.stopping.is_set():  # do not hold up a shutdown for ever: a reaper will
                    give_up = give_up or time.monotonic() + STOP_PATIENCE  # settle the job
                    if time.monotonic() > give_up:
                        extra = {"job_id": run.job_id, "status": status}
                        log.error("stopping without recording the job's end", extra=extra)
                        return "lost"
                time.sleep(wait)
            else:
                self.outage.ok()
                return status

    def run_reaper(self) -> None:
        """Sweep with the reaper every heartbeat interval until the trainer stops."""
        while True:
            try:
                self.reaper.sweep()
            except QueueUnavailable as exc:
                self.reaper.forget()
                self.outage.failed(exc)
            except Exception:
                log.exception("reaper sweep failed")
            else:
                self.outage.ok()
            if self.stopping.wait(self.settings.job_heartbeat):
                return

    def start_reaper(self) -> threading.Thread:
        keeper = threading.Thread(target=self.run_reaper, name="reaper", daemon=True)
        keeper.start()
        return keeper

    def serve(self) -> None:
        """Take messages and run their jobs until `stopping` is set."""
        idle = 0.05
        while not self.stopping.is_set():
            self.alive.touch()
            try:
                job_id = self.queue.take()
            except QueueUnavailable as exc:
                self.stopping.wait(self.outage.failed(exc))
                continue
            except ValueError as exc:  # not ours; taken off the queue all the same
                log.warning("dropped a queue message", extra={"error": str(exc)})
                continue
            self.outage.ok()
            if job_id is None:  # Redis blocks up to 1 s in take(); SQLite returns at once
                self.stopping.wait(idle)
                idle = min(idle * 2, IDLE_WAIT)
                continue
            idle = 0.05
            try:
                self.run_job(job_id)
            except QueueUnavailable as exc:  # its message is re-sent by a reaper later
                self.stopping.wait(self.outage.failed(exc))


def run_job(queue: JobQueue, job_id: str) -> str | None:
    """Run one job in this process, as the trainer does (tests and tools)."""
    return Trainer(queue).run_job(job_id)


def yield_cpu(target: int) -> int:
    """Lower this process's CPU priority to niceness `target`; return its niceness now.

    Training is batch work beside latency-bound predictions. Niceness only ever goes up here,
    which needs no privilege (inside a container too). But niceness weighs a process against
    the others of its scheduling group, and with the kernel's autogroup (on by default in most
    distributions' kernels) every session outside a CPU cgroup is a group of its own: groups
    share the CPU equally whatever their members' niceness, so a trainer started in its own
    session (setsid, a supervisor, a test harness) beside gunicorn's session still took half
    the CPU at nice 10 (docs/benchmarks.md). A trainer that leads its session therefore gives
    its group the same niceness; one in someone else's session leaves that group alone.
    Containers are CPU cgroups, weighed by the orchestrator's CPU shares, not by niceness.
    """
    niceness = os.nice(max(0, target - os.nice(0)))
    if os.getsid(0) == os.getpid():
        with contextlib.suppress(OSError):  # no autogroup in this kernel, or not allowed
            Path("/proc/self/autogroup").write_text(f"{niceness}\n")
    return niceness


def serve(settings: Settings) -> int:
    logs.configure(settings.log_level)
    niceness = yield_cpu(settings.trainer_nice)
    if settings.job_stale_after < 2 * settings.job_heartbeat:
        print(
            "nns-trainer: error: NNS_JOB_STALE_AFTER must be at least twice NNS_JOB_HEARTBEAT, "
            "or live jobs would be taken for lost",
            file=sys.stderr,
        )
        return 2
    try:
        queue = JobQueue.from_settings(settings)
    except QueueUnavailable as exc:
        print(f"nns-trainer: error: {exc}", file=sys.stderr)
        return 1
    trainer = Trainer(queue)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: trainer.stopping.set())
    trainer.alive.write()
    reaper = trainer.start_reaper()  # first, so a predecessor's orphaned jobs are seen early
    # Drawing one loss curve now loads matplotlib (when installed) so that the first job does
    # not pay for it: about 1 s of its round trip.
    loss_curve_png([1.0, 0.5], [], "warm-up")
    backend = "redis" if settings.redis_url else str(settings.queue_path)
    extra = {"queue": backend, "store": str(settings.store_root), "nice": niceness}
    log.info("trainer started", extra=extra)
    try:
        trainer.serve()
    finally:
        trainer.stopping.set()
        reaper.join(settings.job_heartbeat + 10)
        trainer.alive.remove()
    log.info("trainer stopped")
    return 0


if __name__ == "__main__":
    from service.jobs.command import main  # which imports service.jobs.trainer: one module object

    sys.exit(main())
