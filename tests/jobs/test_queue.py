"""The job queue and the trainer's job runner, in process on a real SQLite queue file."""

from __future__ import annotations

import pickle
import threading
import time

import pytest
from huey.registry import Message

from model_store import ModelStore
from service.data import datasets
from service.jobs.queue import JobFinished, JobQueue, JobSpec, JsonSerializer
from service.jobs.trainer import run_job
from service.settings import Settings
from service.training.pipeline import Hyperparameters
from tests.procs import wait_until


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, job_heartbeat=0.05, job_stale_after=0.5, job_timeout=60)


@pytest.fixture
def queue(settings) -> JobQueue:
    return JobQueue.from_settings(settings, runner=run_job)


def spec(model="diabetes", timeout=60.0, **params) -> JobSpec:
    return JobSpec(model, Hyperparameters(**params), "always", "test", timeout)


def run_next(queue: JobQueue) -> None:
    queue.huey.execute(queue.huey.dequeue())


def in_background(queue: JobQueue) -> threading.Thread:
    """Run the next task on a thread, as the trainer's worker thread does."""
    thread = threading.Thread(target=run_next, args=(queue,))
    thread.start()
    return thread


def wait_running(queue: JobQueue, job_id: str) -> dict:
    def running():
        job = queue.get(job_id)
        return job if job["status"] == "running" and job["progress"]["epoch"] > 0 else None

    return wait_until(running, 20, what="the job to run")


def test_the_queue_file_is_in_the_data_dir_and_shared_by_every_opener(settings, queue):
    job = queue.submit(spec(epochs=20), datasets.diabetes())
    assert settings.queue_path.exists()
    other = JobQueue.from_settings(settings, runner=run_job)  # another API worker, or the trainer
    assert other.get(job["job_id"]) == {**job, "cancel_requested": False}
    assert other.pending() == 1
    run_next(other)
    assert queue.get(job["job_id"])["status"] == "succeeded"
    assert ModelStore(settings.store_root).current_version("diabetes") == 1


def test_messages_travel_as_json_and_a_pickle_is_never_loaded(queue):
    serializer = JsonSerializer()
    message = Message("id1", "service.jobs.nns.train", None, 0, 0, None, ("abc",), {})
    assert serializer.deserialize(serializer.serialize(message)) == message

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle ran')",))

    with pytest.raises(ValueError):  # orjson.JSONDecodeError, not SystemExit
        serializer.deserialize(pickle.dumps(Boom()))
    with pytest.raises(TypeError):
        serializer.serialize({"not": "a message"})


def test_a_running_job_reports_progress_and_heartbeats(queue):
    job = queue.submit(spec(model="slow", epochs=100_000), datasets.xor())
    thread = in_background(queue)
    try:
        first = wait_running(queue, job["job_id"])
        assert first["progress"]["epochs"] == 100_000 and first["progress"]["loss"] > 0
        time.sleep(0.3)  # several heartbeats and progress writes later
        later = queue.get(job["job_id"])
        assert later["progress"]["epoch"] > first["progress"]["epoch"]
        assert later["heartbeat_at"] > first["heartbeat_at"]
    finally:
        queue.cancel(job["job_id"])
        thread.join(20)


def test_cancelling_a_running_job_stops_it_and_publishes_nothing(queue, settings):
    job = queue.submit(spec(model="slow", epochs=100_000), datasets.xor())
    thread = in_background(queue)
    wait_running(queue, job["job_id"])
    answer = queue.cancel(job["job_id"])
    assert answer["status"] == "running" and answer["cancel_requested"] is True
    thread.join(20)
    final = queue.get(job["job_id"])
    assert final["status"] == "cancelled" and final["error"].startswith("cancelled at epoch")
    assert "slow" not in ModelStore(settings.store_root).list_models()
    with pytest.raises(JobFinished):
        queue.cancel(job["job_id"])
    assert queue.counts()["cancelled"] == 1


def test_a_job_past_its_budget_fails_and_publishes_nothing(queue, settings):
    job = queue.submit(spec(model="slow", timeout=0.3, epochs=100_000), datasets.xor())
    started = time.monotonic()
    run_next(queue)
    assert time.monotonic() - started < 5
    final = queue.get(job["job_id"])
    assert final["status"] == "failed"
    assert final["error"].startswith("the job ran past its budget of 0.3 s at epoch")
    assert "slow" not in ModelStore(settings.store_root).list_models()


def test_a_job_whose_trainer_went_silent_is_reported_failed_once(queue, settings):
    job = queue.submit(spec(epochs=20), datasets.diabetes())
    record, _, _ = queue.claim(job["job_id"])  # a trainer took it, then died: no heartbeats
    assert queue.get(job["job_id"])["status"] == "running"
    time.sleep(settings.job_stale_after + 0.1)
    reports = [queue.get(job["job_id"]), JobQueue.from_settings(settings).get(job["job_id"])]
    for report in reports:
        assert report["status"] == "failed" and "stopped sending heartbeats" in report["error"]
    assert queue.counts()["failed"] == 1


def test_a_trainer_shutting_down_puts_its_job_back_in_the_queue(queue):
    job = queue.submit(spec(model="slow", epochs=3000), datasets.xor())
    thread = in_background(queue)
    wait_running(queue, job["job_id"])
    queue.stopping.set()
    thread.join(20)
    back = queue.get(job["job_id"])
    assert back["status"] == "queued" and back["progress"]["epoch"] == 0
    assert queue.pending() == 1
    queue.stopping.clear()  # the next trainer runs it from the start
    run_next(queue)
    assert queue.get(job["job_id"])["status"] == "succeeded"


def test_features_that_changed_after_submission_fail_the_job_clearly(queue):
    first = queue.submit(spec(model="fresh", epochs=10), datasets.xor())
    second = queue.submit(spec(model="fresh", epochs=10), datasets.diabetes())
    run_next(queue)
    run_next(queue)
    assert queue.get(first["job_id"])["status"] == "succeeded"
    failed = queue.get(second["job_id"])
    assert failed["status"] == "failed"
    assert failed["error"].startswith("features do not match model 'fresh'")


def test_a_task_for_a_job_that_is_not_queued_is_skipped(queue, settings):
    job = queue.submit(spec(epochs=10), datasets.diabetes())
    queue.cancel(job["job_id"])
    run_job(queue, job["job_id"])
    run_job(queue, "0" * 32)  # no such job: nothing happens
    assert queue.get(job["job_id"])["status"] == "cancelled"
    assert "diabetes" not in ModelStore(settings.store_root).list_models()


def test_counts_and_pending(queue):
    jobs = [queue.submit(spec(epochs=10), datasets.diabetes()) for _ in range(3)]
    assert queue.pending() == 3
    queue.cancel(jobs[2]["job_id"])
    run_next(queue)
    assert queue.counts() == {"queued": 3, "succeeded": 1, "failed": 0, "cancelled": 1}


def test_a_job_whose_input_is_gone_fails_instead_of_staying_queued(queue):
    job = queue.submit(spec(epochs=10), datasets.diabetes())
    queue.storage.put_data(f"job:{job['job_id']}:input", b"not an npz")
    run_next(queue)
    failed = queue.get(job["job_id"])
    assert failed["status"] == "failed" and "input data is missing or unreadable" in failed["error"]
