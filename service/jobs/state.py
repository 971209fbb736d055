"""A training job's record and the state machine it moves through: the one description of both.

    queued --claim--> running --succeed--> succeeded
      |                 |  |---fail / reap--> failed
      |                 |  `---stop / reap--> cancelled      (a cancel request honoured)
      |                 `---hand_back / requeue--> queued   (trainer shutdown / lost trainer)
      `---cancel--> cancelled

Every write is a transition from this table: it names the states it may leave and the side
that owns it, and the backend applies it only if the record is still the revision it was
computed from (compare-and-set on `rev`), so two writers can never both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..training.metadata import Baseline, Metrics

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Owner = Literal["api", "trainer", "reaper"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
OUTCOMES = ("queued", "succeeded", "failed", "cancelled")  # counted: submitted, then each end


class JobProgress(BaseModel):
    epoch: int = Field(description="Epochs done in the current attempt.")
    epochs: int | None = Field(
        description="Epochs asked for; known once training starts when left to default."
    )
    loss: float | None = Field(None, description="Training loss at the last epoch done.")
    trail: list[tuple[int, float]] = Field(
        [],
        description="[epoch, loss] pairs so far, evenly spaced, at most 128 (the dashboard's "
        "growing curve; with cross-validation each fold's fit and then the final one, in turn).",
    )


class JobResult(BaseModel):
    model: str
    version: int = Field(description="The version this job published.")
    metrics: Metrics
    promoted: bool = Field(description="Whether the version was made current.")
    reason: str = Field("", description="Why the version is or is not current, with numbers.")
    baseline: Baseline | None = Field(None, description="The trivial model on the same rows.")


class JobStatus(BaseModel):
    """A training job as every API worker reports it; timestamps are ISO 8601 UTC."""

    job_id: str
    status: Status
    model: str
    promote: Literal["auto", "always", "never"] = Field(description="The promotion policy.")
    progress: JobProgress
    result: JobResult | None = Field(None, description="Set when the job succeeded.")
    error: str | None = Field(None, description="Why the job failed or was cancelled.")
    cancel_requested: bool = Field(
        False, description="A cancel was asked while it ran; the trainer stops before publishing."
    )
    created_at: str
    started_at: str | None = Field(None, description="When the current attempt started.")
    finished_at: str | None = None
    heartbeat_at: str | None = Field(None, description="Last sign of life from its trainer.")
    attempts: int = Field(0, description="Times a trainer started the job.")
    requeues: int = Field(
        0, description="Times it was put back in the queue because its trainer was lost."
    )


class StoredJob(JobStatus):
    """The record as the queue backend keeps it, with the trainer's bookkeeping."""

    rev: int = Field(0, description="Bumped by every write; each write is conditional on it.")
    claim: str | None = Field(None, description="The trainer run that holds the job.")
    publishing: bool = Field(False, description="Past the last point where a cancel stops it.")

    def public(self) -> dict[str, Any]:
        """Return the record as GET /train/jobs/{id} shows it."""
        return self.model_dump(mode="json", include=set(JobStatus.model_fields))


@dataclass(frozen=True)
class Transition:
    source: frozenset[str]
    target: Status
    owner: Owner
    means: str


# name: (states it leaves, state it enters, owner, when)
_TABLE = {
    "claim":          ({"queued"},  "running",   "trainer", "a trainer starts an attempt"),
    "beat":           ({"running"}, "running",   "trainer", "the holder's heartbeat and progress"),
    "request_cancel": ({"running"}, "running",   "api",     "ask the holder to stop"),
    "publish":        ({"running"}, "running",   "trainer", "no cancel after this (none asked)"),
    "succeed":        ({"running"}, "succeeded", "trainer", "the holder published the version"),
    "fail":           ({"running"}, "failed",    "trainer", "training or publishing failed"),
    "stop":           ({"running"}, "cancelled", "trainer", "the holder honoured a cancel request"),
    "hand_back":      ({"running"}, "queued",    "trainer", "a trainer shutting down returns it"),
    "cancel":         ({"queued"},  "cancelled", "api",     "a queued job is cancelled at once"),
    "requeue":        ({"running"}, "queued",    "reaper",  "holder silent; re-queues left"),
    "reap":           ({"running"}, "failed",    "reaper",  "holder silent; none left/publishing"),
    "reap_cancelled": ({"running"}, "cancelled", "reaper",  "holder silent after a cancel request"),
}  # fmt: skip
TRANSITIONS: dict[str, Transition] = {
    name: Transition(frozenset(source), target, owner, means)
    for name, (source, target, owner, means) in _TABLE.items()
}


class Conflict(Exception):
    """The transition does not apply to the job as it is now; `job` is that job."""

    def __init__(self, message: str, job: StoredJob) -> None:
        super().__init__(message)
        self.job = job


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def apply(job: StoredJob, name: str, holder: str | None = None, /, **changes: Any) -> StoredJob:
    """Return `job` after transition `name` with `changes`; raise Conflict if it does not apply.

    Trainer transitions of a running job also need `holder` to be the job's claim.
    """
    t = TRANSITIONS[name]
    if job.status not in t.source:
        raise Conflict(f"cannot {name.replace('_', ' ')} a {job.status} job", job)
    if t.owner == "trainer" and name != "claim" and job.claim != holder:
        raise Conflict("the job is no longer held by this trainer", job)
    if name == "publish" and job.cancel_requested:
        raise Conflict("a cancel was requested", job)
    if name == "request_cancel" and job.publishing:
        raise Conflict("the job is publishing its result and can no longer be cancelled", job)
    if name == "succeed" and not job.publishing:
        raise Conflict("a job succeeds only after it started publishing", job)
    update = {**changes, "status": t.target, "rev": job.rev + 1}
    if t.target != "running":  # leaving running: nobody holds it any more
        update |= {"claim": None, "publishing": False}
    if t.target in TERMINAL:
        update |= {"finished_at": now(), "cancel_requested": False}
    return StoredJob.model_validate({**job.model_dump(), **update})  # validated, unlike model_copy
