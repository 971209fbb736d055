"""The reaper, run by every trainer: settles the jobs of trainers that went silent.

A running job whose heartbeat this reaper has seen unchanged for NNS_JOB_STALE_AFTER seconds
(by its own clock: no trust in other machines' clocks) is put back in the queue, at most
NNS_JOB_MAX_REQUEUES times, then failed with the reason. Each settlement is written only if the
job is still the revision the reaper read, so a heartbeat that lands first wins. Queued jobs
without a waiting message (one lost with a trainer that died between taking and claiming it)
get a new one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .queue import JobQueue
from .state import StoredJob

log = logging.getLogger("service.jobs.reaper")


class Reaper:
    """Sweep the open jobs; `held` returns the claims of this process's own running jobs."""

    def __init__(
        self,
        queue: JobQueue,
        held: Callable[[], set[str]] = set,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue, self.held, self.clock = queue, held, clock
        self.seen: dict[str, tuple[tuple, float]] = {}  # job id -> (last sign of life, seen at)
        self.unsent: dict[str, float] = {}  # queued job id -> since when it has no message

    def forget(self) -> None:
        """Drop what was observed: after an outage nobody could beat, so silence proves nothing."""
        self.seen.clear()
        self.unsent.clear()

    def sweep(self) -> list[StoredJob]:
        """Look at every open job once; return the jobs settled. QueueUnavailable propagates."""
        jobs = self.queue.open_jobs()
        clock, stale = self.clock(), self.queue.settings.job_stale_after
        settled = []
        mine = self.held()
        running = {j.job_id: j for j in jobs if j.status == "running" and j.claim not in mine}
        for job_id in set(self.seen) - set(running):
            del self.seen[job_id]
        for job in running.values():
            sign = (job.claim, job.heartbeat_at)
            previous = self.seen.get(job.job_id)
            if previous is None or previous[0] != sign:
                self.seen[job.job_id] = (sign, clock)
            elif clock - previous[1] >= stale:
                done = self._settle(job, clock - previous[1])
                if done is not None:
                    settled.append(done)
                    del self.seen[job.job_id]
        self._resend([j for j in jobs if j.status == "queued"], clock, stale)
        return settled

    def _settle(self, job: StoredJob, silent: float) -> StoredJob | None:
        lost = f"the trainer stopped sending heartbeats {silent:.0f} s ago (killed or lost)"
        limit = self.queue.settings.job_max_requeues
        if job.publishing:
            name, changes = (
                "reap",
                {
                    "error": f"{lost} while publishing; a version of {job.model!r} may have been "
                    "published: see GET /models/" + job.model
                },
            )
        elif job.cancel_requested:
            name, changes = "reap_cancelled", {"error": f"cancelled; {lost}"}
        elif job.requeues < limit:
            name, changes = (
                "requeue",
                {
                    "requeues": job.requeues + 1,
                    "progress": {"epoch": 0, "epochs": job.progress.epochs, "loss": None},
                    "started_at": None,
                    "heartbeat_at": None,
                },
            )
        else:
            name, changes = (
                "reap",
                {
                    "error": f"{lost} on attempt {job.attempts}; gave up after {job.requeues} "
                    f"re-queues (NNS_JOB_MAX_REQUEUES={limit}): submit it again"
                },
            )
        new = self.queue.settle(job, name, **changes)
        if new is not None:
            extra = {"job_id": job.job_id, "model": job.model, "to": new.status}
            log.warning(f"{name}: {lost}", extra={**extra, "attempts": job.attempts})
        return new

    def _resend(self, queued: list[StoredJob], clock: float, stale: float) -> None:
        if not queued:
            self.unsent.clear()
            return
        waiting = self.queue.messages()
        missing = {j.job_id for j in queued} - waiting
        self.unsent = {i: self.unsent.get(i, clock) for i in missing}
        for job_id, since in list(self.unsent.items()):
            if clock - since >= stale:
                self.queue.wake(job_id)
                log.warning("re-sent a lost queue message", extra={"job_id": job_id})
                del self.unsent[job_id]
