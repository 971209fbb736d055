"""Job state under races and faults, with real trainer processes on a real queue.

Each race is driven deterministically: the trainer runs from a small script that pauses it at
one named function (as tests/model_store/test_crash.py pauses a publisher) until the test has
done the interleaving action, or the test stops it with SIGSTOP. The test process plays the
API: it calls the same JobQueue methods the HTTP routes call, on the same SQLite file or Redis.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from model_store import ModelStore
from service.jobs.queue import JobFinished, JobQueue
from service.settings import Settings
from service.training.request import TrainRequest
from service.training.spec import Hyperparameters
from tests.support.harness import Proc, RedisServer, env_for, start_trainer, wait_until

pytestmark = pytest.mark.process

FAST = {"NNS_JOB_HEARTBEAT": "0.2", "NNS_JOB_STALE_AFTER": "1.5", "NNS_LOG_LEVEL": "INFO"}

# Runs the trainer with one function replaced: its first call touches PAUSED and waits for
# RELEASE to exist, then goes on. argv: module:attribute[.attribute] paused-file release-file.
PAUSING_TRAINER = """\
import importlib, os, sys, time
from pathlib import Path

target, paused_file, release_file = sys.argv[1:4]
module_name, _, attr = target.partition(":")
owner = importlib.import_module(module_name)
*path, name = attr.split(".")
for part in path:
    owner = getattr(owner, part)
real = getattr(owner, name)
calls = []

def pausing(*args, **kwargs):
    calls.append(1)
    if len(calls) == 1:
        Path(paused_file).touch()
        while not os.path.exists(release_file):
            time.sleep(0.01)
    return real(*args, **kwargs)

setattr(owner, name, pausing)
from service.jobs.command import main
sys.argv[1:] = []
sys.exit(main())
"""


class Pause:
    """A trainer process paused at the first call of `target` until `release()`."""

    def __init__(self, data_dir: Path, target: str, **env: str) -> None:
        self.paused_file = data_dir / f"paused-{target}"
        self.release_file = data_dir / f"release-{target}"
        argv = [sys.executable, "-c", PAUSING_TRAINER, target]
        argv += [str(self.paused_file), str(self.release_file)]
        log = data_dir / f"trainer-paused-at-{target}.log"
        self.trainer = Proc(argv, env_for(data_dir, **env), log)

    def wait_paused(self, timeout: float = 60) -> None:
        def paused() -> bool:
            if not self.trainer.alive():
                raise RuntimeError(f"trainer exited:\n{self.trainer.output()[-3000:]}")
            return self.paused_file.exists()

        wait_until(paused, timeout, what=f"the trainer to pause at {self.paused_file.name}")

    def release(self) -> None:
        self.release_file.touch()


@contextlib.contextmanager
def stopping(*procs: Proc):
    try:
        yield
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
            proc.stop()


def settings_for(data_dir: Path, **env: str) -> Settings:
    fields = {k.removeprefix("NNS_").lower(): v for k, v in env.items() if k.startswith("NNS_")}
    fields.pop("log_level", None)
    return Settings(data_dir=data_dir, **fields)


def spec(model: str, epochs: int, hidden=(16,)) -> TrainRequest:
    # Full batch, no early stopping: the job runs all its epochs, as long as each test needs.
    params = Hyperparameters(
        hidden=list(hidden), epochs=epochs, batch_size=None, validation_split=0, patience=None
    )
    return TrainRequest(
        model=model, dataset="moons", samples=200, hyperparameters=params, promote="always"
    )


def final(queue: JobQueue, job_id: str, timeout: float = 60) -> dict:
    def done():
        job = queue.get(job_id)
        return job if job["status"] in ("succeeded", "failed", "cancelled") else None

    return wait_until(done, timeout, interval=0.05, what=f"job {job_id} to end")


def running_with_progress(queue: JobQueue, job_id: str, timeout: float = 60) -> dict:
    def progressing():
        job = queue.get(job_id)
        return job if job["status"] == "running" and job["progress"]["epoch"] > 0 else None

    return wait_until(progressing, timeout, what=f"job {job_id} to run")


def published(data_dir: Path, model: str) -> list[int]:
    store = ModelStore(data_dir / "models")
    return store.versions(model) if model in store.list_models() else []


def job_ended(trainer: Proc) -> bool:
    return '"message":"job ended"' in trainer.output()


# --- cancel against the trainer's claim and publish --------------------------------------------


def test_a_cancel_while_the_trainer_claims_the_job_is_honoured(tmp_path):
    """Old defect: the API answered "cancelled", then the trainer ran, published and promoted."""
    queue = JobQueue.from_settings(settings_for(tmp_path, **FAST))
    job_id = queue.submit(spec("claimed", 3000))["job_id"]
    pause = Pause(tmp_path, "service.jobs.queue:_unpack", **FAST)  # inside the claim
    with stopping(pause.trainer):
        pause.wait_paused()
        answer = queue.cancel(job_id)
        pause.release()
        job = final(queue, job_id)
        wait_until(lambda: job_ended(pause.trainer), 30, what="the trainer to end the job")
    assert answer["status"] == "cancelled" or answer["cancel_requested"] is True, answer
    assert job["status"] == "cancelled", job
    assert job["result"] is None and published(tmp_path, "claimed") == []
    assert queue.get(job_id) == job  # and it stays so


@pytest.mark.parametrize(
    "where",
    [
        "service.training.pipeline:loss_curve_png",  # trained; about to publish
        "model_store:ModelStore.publish_outcome",  # publishing
    ],
)
def test_a_cancel_around_publishing_is_either_refused_or_nothing_is_published(tmp_path, where):
    """Old defect: the cancel was accepted (202) and the trainer published anyway."""
    queue = JobQueue.from_settings(settings_for(tmp_path, **FAST))
    job_id = queue.submit(spec("late", 300))["job_id"]
    pause = Pause(tmp_path, where, **FAST)
    with stopping(pause.trainer):
        pause.wait_paused()
        try:
            answer = queue.cancel(job_id)
        except JobFinished as exc:
            answer = {"refused": str(exc)}
        pause.release()
        job = final(queue, job_id)
        wait_until(lambda: job_ended(pause.trainer), 30, what="the trainer to end the job")
    if "refused" in answer:  # too late to cancel: the job publishes and says so
        assert job["status"] == "succeeded" and published(tmp_path, "late") == [1], (answer, job)
    else:  # accepted: the job must not publish
        assert answer["cancel_requested"] is True, answer
        assert job["status"] == "cancelled", (answer, job)
        assert published(tmp_path, "late") == [], job


# --- a trainer that stops answering --------------------------------------------------------------


def test_reads_never_write_a_silent_trainers_job_stays_running_until_a_reaper_acts(tmp_path):
    """Old defect: GET /train/jobs/{id} marked the job failed (a read that writes)."""
    settings = settings_for(tmp_path, **FAST)
    queue = JobQueue.from_settings(settings)
    job_id = queue.submit(spec("silent", 3000))["job_id"]
    trainer = start_trainer(tmp_path, **FAST)
    with stopping(trainer):
        before = running_with_progress(queue, job_id)
        trainer.kill(signal.SIGSTOP)
        stopped = time.monotonic()
        wait_until(
            lambda: time.monotonic() - stopped > 2 * settings.job_stale_after,
            10,
            what="the heartbeat to be stale",
        )
        reads = [queue.get(job_id) for _ in range(3)]
    assert all(r["status"] == "running" for r in reads), reads
    assert reads[0]["heartbeat_at"] == reads[-1]["heartbeat_at"] >= before["heartbeat_at"]
    assert queue.counts()["failed"] == 0


def test_a_job_failed_as_stale_never_comes_back_when_its_trainer_wakes(tmp_path):
    """Old defect: failed as stale, then its trainer's heartbeat made it running and succeeded."""
    env = {**FAST, "NNS_JOB_MAX_REQUEUES": "0"}
    queue = JobQueue.from_settings(settings_for(tmp_path, **env))
    job_id = queue.submit(spec("wakes", 15000))["job_id"]
    first = start_trainer(tmp_path, tmp_path / "first.log", **env)
    second = None
    with stopping(first):
        running_with_progress(queue, job_id)
        first.kill(signal.SIGSTOP)
        second = start_trainer(tmp_path, tmp_path / "second.log", **env)  # its reaper acts
        with stopping(second):
            failed = final(queue, job_id, timeout=20)
            first.kill(signal.SIGCONT)
            wait_until(lambda: job_ended(first), 60, what="the woken trainer to drop the job")
            after = queue.get(job_id)
    assert failed["status"] == "failed" and "stopped sending heartbeats" in failed["error"]
    assert after == failed, after
    assert published(tmp_path, "wakes") == []


def test_a_killed_trainers_job_is_taken_over_within_10_s_by_default(tmp_path):
    """Old defects: the job showed "running" for 30 s, and a restarted trainer ignored it."""
    queue = JobQueue.from_settings(Settings(data_dir=tmp_path))  # default heartbeat settings
    job_id = queue.submit(spec("orphan", 15000))["job_id"]
    first = start_trainer(tmp_path, tmp_path / "first.log")
    with stopping(first):
        running_with_progress(queue, job_id)
        first.kill(signal.SIGKILL)
        killed = time.monotonic()
    second = start_trainer(tmp_path, tmp_path / "second.log")  # what a restart policy does
    with stopping(second):

        def taken_over():
            job = queue.get(job_id)
            return job if job["status"] != "running" or job.get("attempts", 1) > 1 else None

        wait_until(taken_over, 10, interval=0.1, what="the orphaned job to be taken over")
        detected = time.monotonic() - killed
        job = final(queue, job_id, timeout=90)
    print(f"\ntrainer SIGKILL: orphaned job taken over {detected:.1f} s after the kill")
    assert job["status"] == "succeeded" and job["attempts"] == 2 and job["requeues"] == 1, job
    assert published(tmp_path, "orphan") == [1]


def test_a_lost_job_is_failed_by_the_reaper_without_anyone_reading_it(tmp_path):
    """Old defect: a stale job was only marked failed when someone read it."""
    env = {**FAST, "NNS_JOB_MAX_REQUEUES": "0"}
    queue = JobQueue.from_settings(settings_for(tmp_path, **env))
    job_id = queue.submit(spec("unread", 15000))["job_id"]
    first = start_trainer(tmp_path, tmp_path / "first.log", **env)
    with stopping(first):
        running_with_progress(queue, job_id)
        first.kill(signal.SIGKILL)
    second = start_trainer(tmp_path, tmp_path / "second.log", **env)
    with stopping(second):
        wait_until(lambda: queue.counts()["failed"] == 1, 20, what="the reaper to fail the job")
    job = queue.get(job_id)
    assert job["status"] == "failed" and "gave up after 0 re-queues" in job["error"], job


def test_a_requeued_job_publishes_once_even_when_its_first_trainer_wakes(tmp_path):
    queue = JobQueue.from_settings(settings_for(tmp_path, **FAST))
    job_id = queue.submit(spec("twice", 15000))["job_id"]
    first = start_trainer(tmp_path, tmp_path / "first.log", **FAST)
    with stopping(first):
        running_with_progress(queue, job_id)
        first.kill(signal.SIGSTOP)
        second = start_trainer(tmp_path, tmp_path / "second.log", **FAST)
        with stopping(second):
            wait_until(
                lambda: queue.get(job_id).get("attempts") == 2, 20, what="the second attempt"
            )
            first.kill(signal.SIGCONT)
            job = final(queue, job_id, timeout=90)
            wait_until(lambda: job_ended(first), 30, what="the woken trainer to drop the job")
    assert job["status"] == "succeeded" and job["attempts"] == 2, job
    assert published(tmp_path, "twice") == [1]
    assert '"status":"lost"' in first.output()


# --- the queue backend going away ----------------------------------------------------------------


class Refuser:
    """Accepts TCP connections on a port and closes them at once: a Redis that is down."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.accepted = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.close()
            self.accepted += 1

    def close(self) -> None:
        self.done.set()
        self.thread.join(5)
        self.sock.close()


def test_a_redis_outage_is_logged_once_down_and_once_back_without_tracebacks(tmp_path):
    """Old defect: a 3 KB traceback every 0.5 s while Redis was down."""
    redis = RedisServer(tmp_path / "redis.log")
    env = {**FAST, "NNS_REDIS_URL": redis.url}
    queue = JobQueue.from_settings(settings_for(tmp_path, **env))
    trainer = start_trainer(tmp_path, **env)
    with stopping(trainer):
        assert final(queue, queue.submit(spec("up", 50))["job_id"])["status"] == ("succeeded")
        redis.stop()
        refuser = Refuser(redis.port)
        try:
            wait_until(lambda: refuser.accepted >= 8, 60, what="the trainer to retry 8 times")
            during = trainer.output()
        finally:
            refuser.close()
        redis = RedisServer(tmp_path / "redis2.log", port=redis.port)
        try:
            job = final(queue, queue.submit(spec("back", 50))["job_id"], timeout=60)
            wait_until(lambda: "reachable again" in trainer.output(), 20, what="the back line")
        finally:
            redis.stop()
        log = trainer.output()
    lines = log.strip().splitlines()
    print(
        f"\nredis outage: {refuser.accepted} refused connections while down; the trainer "
        f"logged {len(lines)} lines ({len(log.encode())} bytes) in all, no traceback"
    )
    assert job["status"] == "succeeded"
    assert "Traceback" not in log, log[-3000:]
    assert during.count("job queue unreachable") == 1, during[-3000:]
    assert log.count("reachable again") == 1
    assert len(log.encode()) < 4000, log[-3000:]


# --- nns-trainer --check -----------------------------------------------------------------------


def check(data_dir: Path, alive: Path) -> subprocess.CompletedProcess:
    env = env_for(data_dir, NNS_TRAINER_ALIVE_FILE=str(alive), **FAST)
    argv = [sys.executable, "-m", "service.jobs.command", "--check"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)


def test_the_trainer_healthcheck_says_whether_a_live_trainer_loop_runs_here(tmp_path):
    alive = tmp_path / "trainer.alive"
    out = check(tmp_path, alive)
    assert out.returncode == 1 and len(out.stdout.strip().splitlines()) == 1, out
    assert "no trainer" in out.stdout
    trainer = start_trainer(tmp_path, NNS_TRAINER_ALIVE_FILE=str(alive), **FAST)
    with stopping(trainer):
        wait_until(lambda: check(tmp_path, alive).returncode == 0, 30, what="healthy")
        trainer.kill(signal.SIGSTOP)  # a stuck loop
        out = wait_until(
            lambda: (o := check(tmp_path, alive)).returncode == 1 and o, 30, what="unhealthy"
        )
        assert "no sign of life" in out.stdout and len(out.stdout.strip().splitlines()) == 1
        trainer.kill(signal.SIGCONT)
        wait_until(lambda: check(tmp_path, alive).returncode == 0, 30, what="healthy again")
        trainer.kill(signal.SIGTERM)
        assert trainer.popen.wait(30) == 0
    out = check(tmp_path, alive)
    assert out.returncode == 1 and "no trainer" in out.stdout, out


def test_the_healthcheck_is_unhealthy_when_the_trainer_died_without_cleaning_up(tmp_path):
    alive = tmp_path / "trainer.alive"
    trainer = start_trainer(tmp_path, NNS_TRAINER_ALIVE_FILE=str(alive), **FAST)
    with stopping(trainer):
        wait_until(lambda: check(tmp_path, alive).returncode == 0, 30, what="healthy")
        trainer.kill(signal.SIGKILL)
        trainer.popen.wait(10)
    out = check(tmp_path, alive)  # the file is fresh, but its process is gone
    assert out.returncode == 1 and "not running" in out.stdout, out


def test_the_trainer_lowers_its_own_cpu_priority(tmp_path):
    """NNS_TRAINER_NICE (default 10): a training job on the API's host yields the CPU."""
    assert Settings().trainer_nice == 10
    alive = tmp_path / "trainer.alive"
    trainer = start_trainer(tmp_path, NNS_TRAINER_ALIVE_FILE=str(alive), NNS_TRAINER_NICE="7")
    with stopping(trainer):
        wait_until(lambda: check(tmp_path, alive).returncode == 0, 30, what="the trainer loop")
        # /proc/<pid>/stat: field 19 is the niceness (after the command name in parentheses).
        stat = Path(f"/proc/{trainer.popen.pid}/stat").read_text()
        assert int(stat.rsplit(")", 1)[1].split()[16]) == 7
        # It leads its own session (the harness starts it so), so with the kernel's autogroup
        # its session's group is niced too, or nice 7 would weigh nothing against gunicorn's.
        group = Path(f"/proc/{trainer.popen.pid}/autogroup")
        if group.exists() and Path("/proc/sys/kernel/sched_autogroup_enabled").read_text() == "1\n":
            assert group.read_text().split()[-1] == "7", group.read_text()
