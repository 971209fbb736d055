"""The job state machine: every transition from every state, its owner's guard, the record."""

from __future__ import annotations

import itertools
from typing import get_args

import pytest

from service.jobs.state import (
    TERMINAL,
    TRANSITIONS,
    Conflict,
    JobStatus,
    Status,
    StoredJob,
    apply,
)

STATES = get_args(Status)


def job(status: str = "queued", **fields) -> StoredJob:
    progress = {"epoch": 0, "epochs": 10, "loss": None}
    base = {"job_id": "a" * 32, "model": "m", "promote": "always", "progress": progress}
    return StoredJob(**base, status=status, created_at="2026-01-01T00:00:00.000Z", **fields)


def test_the_table_is_the_documented_machine():
    edges = {(s, t.target) for t in TRANSITIONS.values() for s in t.source if s != t.target}
    assert edges == {
        ("queued", "running"),
        ("queued", "cancelled"),
        ("running", "succeeded"),
        ("running", "failed"),
        ("running", "cancelled"),
        ("running", "queued"),
    }
    assert not any(s in TERMINAL for t in TRANSITIONS.values() for s in t.source)
    owners = {name: t.owner for name, t in TRANSITIONS.items()}
    assert {n for n, o in owners.items() if o == "api"} == {"cancel", "request_cancel"}
    assert {n for n, o in owners.items() if o == "reaper"} == {"requeue", "reap", "reap_cancelled"}
    # running -> queued only by a trainer handing its own job back, or by the reaper
    assert {n for n, t in TRANSITIONS.items() if t.target == "queued"} == {"hand_back", "requeue"}


@pytest.mark.parametrize("state,name", list(itertools.product(STATES, TRANSITIONS)))
def test_a_transition_applies_only_from_the_states_it_leaves(state, name):
    t = TRANSITIONS[name]
    before = job(state, claim="me" if state == "running" else None)
    extra = {"publishing": True} if name == "succeed" else {}
    before = before.model_copy(update=extra)
    if state not in t.source:
        with pytest.raises(Conflict, match=f"a {state} job"):
            apply(before, name, "me")
        return
    after = apply(before, name, "me")
    assert after.status == t.target and after.rev == before.rev + 1
    assert before.status == state  # apply returns a new record
    if t.target in TERMINAL:
        assert after.finished_at and after.claim is None and not after.cancel_requested


@pytest.mark.parametrize(
    "name", [n for n, t in TRANSITIONS.items() if t.owner == "trainer" and n != "claim"]
)
def test_only_the_holder_makes_trainer_transitions(name):
    held = job("running", claim="first", publishing=name == "succeed")
    with pytest.raises(Conflict, match="no longer held by this trainer"):
        apply(held, name, "second")
    assert apply(held, name, "first").rev == 1


def test_publishing_and_cancelling_exclude_each_other():
    running = job("running", claim="me")
    asked = apply(running, "request_cancel", cancel_requested=True)
    with pytest.raises(Conflict, match="a cancel was requested"):
        apply(asked, "publish", "me", publishing=True)
    publishing = apply(running, "publish", "me", publishing=True)
    with pytest.raises(Conflict, match="can no longer be cancelled"):
        apply(publishing, "request_cancel", cancel_requested=True)
    with pytest.raises(Conflict, match="only after it started publishing"):
        apply(running, "succeed", "me")
    assert apply(publishing, "succeed", "me").status == "succeeded"


def test_leaving_running_releases_the_claim():
    running = job("running", claim="me", publishing=True)
    for name in ("hand_back", "requeue", "fail", "reap"):
        after = apply(running, name, "me")
        assert after.claim is None and after.publishing is False, name


def test_the_public_record_has_the_api_fields_and_no_bookkeeping():
    public = job("running", claim="host:1:abc", publishing=True, rev=7).public()
    assert set(public) == set(JobStatus.model_fields)
    assert {"claim", "publishing", "rev"}.isdisjoint(public)
    assert {"job_id", "status", "progress", "result", "error", "cancel_requested"} <= set(public)
    assert {"created_at", "started_at", "finished_at", "heartbeat_at", "attempts"} <= set(public)
    schema = JobStatus.model_json_schema()
    assert schema["properties"]["status"]["enum"] == list(STATES)


def test_updates_are_validated():
    with pytest.raises(ValueError):
        apply(job("queued"), "claim", "me", attempts="many")
    claimed = apply(job("queued"), "claim", "me", claim="me", progress={"epoch": 0, "epochs": 3})
    assert claimed.progress.epochs == 3 and claimed.progress.loss is None
