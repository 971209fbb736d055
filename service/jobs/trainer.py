"""The trainer: `nns-trainer` or `python -m service.jobs.trainer` runs the queued training jobs.

It reads the same NNS_* settings as the API, consumes the Huey queue with one worker thread and
trains with the same function as `nns-train`. SIGTERM or SIGINT stops it; a job it was running
goes back to the queue.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from huey.consumer import Consumer

from model_store import StoreError, open_store

from ..settings import get_settings
from ..training.pipeline import train_model
from ..training.plots import loss_curve_png
from ..web import logs
from .queue import POLL_MAX, JobQueue, QueueUnavailable, now

log = logging.getLogger("service.jobs.trainer")

PROGRESS_EVERY = 0.25  # seconds between progress writes and cancel checks (epochs can be µs)
FINAL_WRITE_RETRY = 0.5  # seconds between attempts to record a job's end while the queue is down


class Stop(Exception):
    """Raised from the progress callback to end training early, with the job's final status."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class Run:
    """One job in training: its record, progress, heartbeat and the reasons to stop it."""

    def __init__(self, queue: JobQueue, record: dict, budget: float) -> None:
        self.queue, self.record, self.budget = queue, record, budget
        self.deadline = time.monotonic() + budget
        self.next_sync = 0.0
        self.lock = threading.Lock()  # the record is shared with the heartbeat thread
        self.done = threading.Event()

    def _write(self) -> None:
        self.record["heartbeat_at"] = now()
        try:
            self.queue.save(self.record)
        except QueueUnavailable as exc:
            log.warning("cannot save job progress", extra={"error": str(exc)})

    def progress(self, epoch: int, epochs: int, loss: float) -> None:
        """Record the epoch; raise Stop past the budget, on cancel or on shutdown."""
        with self.lock:
            self.record["progress"] = {"epoch": epoch, "epochs": epochs, "loss": float(loss)}
        t = time.monotonic()
        where = f"at epoch {epoch} of {epochs}; nothing was published"
        if t > self.deadline:
            raise Stop("failed", f"the job ran past its budget of {self.budget:g} s {where}")
        if self.queue.stopping.is_set():
            raise Stop("queued", "the trainer shut down")
        if t >= self.next_sync:
            self.next_sync = t + PROGRESS_EVERY
            if self._cancelled():
                raise Stop("cancelled", f"cancelled {where}")
            with self.lock:
                self._write()

    def _cancelled(self) -> bool:
        try:
            return self.queue.cancel_requested(self.record["job_id"])
        except QueueUnavailable:
            return False  # keep training; the cancel is seen once the queue is back

    def heartbeat(self) -> None:
        """Write the record every heartbeat interval, even while one epoch takes long."""
        while not self.done.wait(self.queue.settings.job_heartbeat):
            with self.lock:
                if not self.done.is_set():
                    self._write()


def _train(queue: JobQueue, run: Run, spec, data) -> tuple[str, dict | None, str | None]:
    """Train and publish; return (status, result, error)."""
    try:
        out = train_model(
            data,
            spec.params,
            open_store(queue.settings.store_root),
            spec.model,
            task=spec.task,
            promote=spec.promote,
            progress=run.progress,
            source=spec.source,
            excluded=list(spec.excluded),
        )
    except Stop as stop:
        return stop.status, None, stop.reason
    except (ValueError, StoreError) as exc:  # DatasetError is a ValueError
        return "failed", None, str(exc)
    except OSError as exc:  # the store's disk refused: read-only, full, permissions
        where = queue.settings.store_root
        return "failed", None, f"cannot write to the model store {where}: {exc.strerror or exc}"
    except Exception as exc:
        log.exception("training failed", extra={"job_id": run.record["job_id"]})
        return "failed", None, f"training failed unexpectedly: {type(exc).__name__}: {exc}"
    result = {"model": out.model, "version": out.version, "metrics": out.metrics}
    result |= {"promoted": out.promoted, "reason": out.reason, "baseline": out.baseline}
    return "succeeded", result, None


def run_job(queue: JobQueue, job_id: str) -> None:
    """Run one queued job to its end and record the outcome (the Huey task body)."""
    claimed = queue.claim(job_id)
    if claimed is None:
        return
    record, spec, data = claimed
    run = Run(queue, record, min(spec.timeout, queue.settings.job_timeout))
    beat = threading.Thread(target=run.heartbeat, name="heartbeat", daemon=True)
    beat.start()
    started = time.perf_counter()
    try:
        status, result, error = _train(queue, run, spec, data)
    finally:
        with run.lock:
            run.done.set()
        beat.join()
    while True:
        try:
            if status == "queued":
                queue.requeue(run.record)
            else:
                queue.finish(run.record, status, result=result, error=error)
            break
        except QueueUnavailable as exc:
            # The outcome is a fact (a version may be published): keep trying to record it.
            log.warning("cannot record job end; retrying", extra={"error": str(exc)})
            time.sleep(FINAL_WRITE_RETRY)
    extra = {"job_id": job_id, "model": spec.model, "status": status, "error": error}
    log.info("job ended", extra={**extra, "seconds": round(time.perf_counter() - started, 3)})


class Trainer(Consumer):
    """The Huey consumer; on shutdown it stops the running job and puts it back in the queue."""

    def __init__(self, queue: JobQueue) -> None:
        self.jobs = queue
        super().__init__(
            queue.huey,
            workers=1,
            worker_type="thread",
            periodic=False,
            max_delay=POLL_MAX,
            graceful_signal="TERM",
            shutdown_timeout=30,
        )

    def stop(self, graceful: bool = False) -> None:
        self.jobs.stopping.set()
        super().stop(graceful=True)


def main() -> int:
    """Run the trainer until SIGTERM or SIGINT."""
    settings = get_settings()
    logs.configure(settings.log_level)
    logging.getLogger("huey").handlers[:] = logging.getLogger("service").handlers
    logging.getLogger("huey").setLevel("WARNING")
    try:
        queue = JobQueue.from_settings(settings, runner=run_job)
    except QueueUnavailable as exc:
        print(f"nns-trainer: error: {exc}", file=sys.stderr)
        return 1
    # Drawing one loss curve now loads matplotlib (when installed) so that the first job does
    # not pay for it: about 1 s of its round trip.
    loss_curve_png([1.0, 0.5], [], "warm-up")
    backend = "redis" if settings.redis_url else str(settings.queue_path)
    log.info("trainer started", extra={"queue": backend, "store": str(settings.store_root)})
    Trainer(queue).run()
    return 0


if __name__ == "__main__":
    from service.jobs.trainer import main as _main  # one module object, also for the Huey task body

    sys.exit(_main())
