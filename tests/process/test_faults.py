"""Faults injected into real processes: a killed worker, a broken CURRENT, a read-only store and
Redis going away. Predictions must keep working through each of them.

Covered elsewhere: a trainer killed mid-job (tests/process/test_training_jobs.py,
test_sigkill_mid_job_reports_it_failed_and_keeps_the_store_loadable), a publisher killed
mid-write (tests/model_store/test_crash.py), and Redis down before the API first used it
(tests/process/test_redis.py); here Redis dies after both the API and the trainer used it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.api import AUTH, ONE, TOKEN, Predicting
from tests.support.harness import (
    Gunicorn,
    Proc,
    RedisServer,
    env_for,
    http,
    start_trainer,
    train_cli,
    wait_until,
)

pytestmark = pytest.mark.process

JOB = {"model": "diabetes", "dataset": "diabetes", "hyperparameters": {"epochs": 50}}
JOB["promote"] = "always"  # a 50-epoch retrain is worse than v1: the gate would keep v1
FAST = {"NNS_ADMIN_TOKEN": TOKEN, "NNS_RELOAD_INTERVAL": "0.1"}

# Root ignores file modes through CAP_DAC_OVERRIDE; dropping it from the bounding set before
# exec makes the trainer obey them like any user (prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)).
WITHOUT_DAC_OVERRIDE = """\
import ctypes, os, sys
if os.geteuid() == 0 and ctypes.CDLL(None, use_errno=True).prctl(24, 1, 0, 0, 0) != 0:
    sys.exit(f"cannot drop CAP_DAC_OVERRIDE: errno {ctypes.get_errno()}")
os.execv(sys.executable, [sys.executable, "-m", "service.jobs.trainer"])
"""


@contextlib.contextmanager
def running(*procs):
    try:
        yield procs
    finally:
        for proc in reversed(procs):
            proc.stop()


def served_versions(api: Gunicorn, n: int = 12) -> set:
    """Return the versions n predictions came from ("HTTP <status>" for a failure)."""
    out = set()
    for _ in range(n):
        status, _, body = http("POST", api.url + "/predict", ONE)
        out.add(body["version"] if status == 200 else f"HTTP {status}")
    return out


def readiness(api: Gunicorn, n: int = 8) -> list[tuple[int, dict]]:
    """Ask n times, so both sync workers answer some."""
    return [http("GET", api.url + "/health/ready")[::2] for _ in range(n)]


def degraded_by(api: Gunicorn, text: str) -> bool:
    answers = readiness(api)
    return all(s == 200 and b["status"] == "degraded" and text in str(b) for s, b in answers)


def finished(api: Gunicorn, job_id: str, timeout: float = 30) -> dict:
    def done():
        status, _, job = http("GET", f"{api.url}/train/jobs/{job_id}")
        assert status == 200, job
        return job if job["status"] in ("succeeded", "failed", "cancelled") else None

    return wait_until(done, timeout, interval=0.1, what=f"job {job_id} to finish")


def submit(api: Gunicorn) -> str:
    status, _, answer = http("POST", api.url + "/train", JOB, AUTH)
    assert status == 202, answer
    return answer["job_id"]


def test_a_worker_killed_under_load_is_replaced_and_only_its_request_fails(tmp_path):
    train_cli(tmp_path / "models", "--epochs", "200")
    with running(Gunicorn(tmp_path, tmp_path / "gunicorn.log", workers=2)) as (api,):
        api.wait_ready()
        before = set(wait_until(lambda: len(api.worker_pids()) == 2 and api.worker_pids(), 10))
        load = Predicting(api, threads=4)
        wait_until(lambda: len(load.answers) >= 100, 20, what="the load to be answered")
        victim = min(before)
        os.kill(victim, signal.SIGKILL)

        def replaced():
            pids = set(api.worker_pids())
            return len(pids) == 2 and victim not in pids and pids - before

        (new,) = wait_until(replaced, 15, what="the master to start a new worker")
        served = tmp_path / "metrics" / f"counter_{new}.db"
        wait_until(served.exists, 20, what="the replacement to take its share of the load")
        statuses = Counter(status for status, _ in load.stop())
        failed = sum(n for status, n in statuses.items() if status != 200)
        assert failed <= 2, statuses  # sync workers: only the request in flight on the victim
        assert statuses[200] > 50
        assert http("GET", api.url + "/health/ready")[0] == 200
        assert served_versions(api, 20) == {1}


def replace_text(path: Path, text: str) -> None:
    """Rewrite a file atomically, as the store does, so no reader sees half of it."""
    tmp = path.with_name(path.name + ".fault")
    tmp.write_text(text)
    os.replace(tmp, path)


def both_workers_up(api: Gunicorn, data_dir: Path) -> None:
    """Wait until each worker has served a request (so neither starts after the fault)."""

    def served():
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: http("GET", api.url + "/health/live"), range(8)))
        pids = api.worker_pids()
        return len(pids) == 2 and all(
            (data_dir / "metrics" / f"counter_{pid}.db").exists() for pid in pids
        )

    wait_until(served, 20, what="both workers to serve")


def test_a_broken_current_keeps_the_last_good_version_serving_and_ready_says_why(tmp_path):
    models = tmp_path / "models"
    train_cli(models, "--epochs", "200")
    train_cli(models, "--epochs", "200", "--no-promote")  # v2, to be corrupted
    current = models / "diabetes" / "CURRENT"
    api = Gunicorn(tmp_path, tmp_path / "gunicorn.log", workers=2, **FAST)
    with running(api):
        api.wait_ready()
        # A worker starting while CURRENT is broken serves the newest version that loads (it
        # cannot know which one was served before): v2 here until it is corrupted below.
        both_workers_up(api, tmp_path)
        assert readiness(api, 1)[0][1]["status"] == "ok"

        replace_text(current, "not a version\n")
        wait_until(lambda: degraded_by(api, "CURRENT"), 10, what="garbage CURRENT reported")
        assert served_versions(api) == {1}

        replace_text(current, "99\n")
        wait_until(lambda: degraded_by(api, "99"), 10, what="missing version reported")
        assert served_versions(api) == {1}
        card = http("GET", api.url + "/models/diabetes")[2]
        assert card["version"] == 1 and "99" in card["load_error"]

        weights = models / "diabetes" / "2" / "weights.npz"
        weights.write_bytes(weights.read_bytes()[:-64] + b"\0" * 64)
        replace_text(current, "2\n")
        wait_until(lambda: degraded_by(api, "version 2"), 10, what="corrupt version reported")
        assert served_versions(api) == {1}
        (problem,) = readiness(api, 1)[0][1]["problems"]
        assert "checksum mismatch" in problem, problem

        # A worker started now never served v1: it falls back to the newest version that loads.
        for pid in api.worker_pids():
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: degraded_by(api, "version 2"), 20, what="new workers to report it")
        assert served_versions(api) == {1}

    # And so does a whole new gunicorn.
    api = Gunicorn(tmp_path, tmp_path / "gunicorn2.log", workers=2, **FAST)
    with running(api):
        api.wait_ready()
        assert degraded_by(api, "version 2") and served_versions(api) == {1}
        status, _, answer = http("PUT", api.url + "/models/diabetes/current", {"version": 1}, AUTH)
        assert status == 200, answer
        wait_until(lambda: all(b["status"] == "ok" for _, b in readiness(api)), 10, what="ok")
        assert served_versions(api) == {1}


def chmod_tree(root: Path, writable: bool) -> None:
    write = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~write)


def test_a_read_only_store_fails_jobs_clearly_and_predictions_go_on(tmp_path):
    models = tmp_path / "models"
    train_cli(models, "--epochs", "200")
    before = sorted(p.name for p in (models / "diabetes").iterdir())
    api = Gunicorn(tmp_path, tmp_path / "gunicorn.log", workers=2, **FAST)
    argv = [sys.executable, "-c", WITHOUT_DAC_OVERRIDE]
    trainer = Proc(argv, env_for(tmp_path, **FAST), tmp_path / "trainer.log")
    chmod_tree(models, writable=False)
    try:
        with running(api, trainer):
            api.wait_ready()
            load = Predicting(api, threads=2)
            try:
                job = finished(api, submit(api))
            finally:
                statuses = {status for status, _ in load.stop()}
            assert job["status"] == "failed", job
            assert job["error"] == f"cannot write to the model store {models}: Permission denied"
            assert statuses == {200}, statuses
            assert served_versions(api) == {1}
            assert http("GET", api.url + "/health/ready")[0] == 200
    finally:
        chmod_tree(models, writable=True)
    assert sorted(p.name for p in (models / "diabetes").iterdir()) == before
    assert "Traceback" not in trainer.output(), trainer.output()[-3000:]


def test_redis_dying_in_use_turns_training_off_and_back_on_without_restarts(tmp_path):
    train_cli(tmp_path / "models", "--epochs", "200")
    redis = RedisServer(tmp_path / "redis.log")
    env = {**FAST, "NNS_REDIS_URL": redis.url}
    api = Gunicorn(tmp_path, tmp_path / "gunicorn.log", workers=2, **env)
    trainer = start_trainer(tmp_path, tmp_path / "trainer.log", **env)
    with running(api, trainer):
        api.wait_ready()
        first = submit(api)
        assert finished(api, first)["status"] == "succeeded"
        redis.stop()

        status, _, answer = http("POST", api.url + "/train", JOB, AUTH)
        assert status == 503 and answer["code"] == "queue_unavailable", answer
        assert "Redis" in answer["error"] and "predictions still work" in answer["error"]
        assert http("GET", f"{api.url}/train/jobs/{first}")[0] == 503
        # A worker that booted just before the switch looks again one reload interval later.
        wait_until(lambda: served_versions(api) == {2}, 10, what="every worker to serve v2")
        assert http("GET", api.url + "/health/ready")[0] == 200
        assert "nns_training_queue_up 0.0" in http("GET", api.url + "/metrics")[2].decode()

        redis = RedisServer(tmp_path / "redis2.log", port=redis.port)
        try:
            job = finished(api, submit(api))
            assert job["status"] == "succeeded" and job["result"]["version"] == 3, job
            assert trainer.alive()
        finally:
            redis.stop()
