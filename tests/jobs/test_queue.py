"""The job queue and the trainer's job runner, in process, on a real SQLite file and a real Redis.

Races are driven deterministically: `before_next_write` runs another writer's action between a
writer's read and its compare-and-set, the moment a lost update used to happen.
"""

from __future__ import annotations

import pickle
import threading

import pytest
import redis
from huey.registry import Message

from model_store import ModelStore
from service.jobs.queue import JobFinished, JobQueue, JsonSerializer
from service.jobs.reaper import Reaper
from service.jobs.state import Conflict
from service.jobs.trainer import Trainer, run_job
from service.settings import Settings
from service.training.request import TrainRequest
from tests.support.harness import RedisServer, wait_until


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis") / "redis.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.process)])
def settings(request, tmp_path) -> Settings:
    fields = {"data_dir": tmp_path, "job_heartbeat": 0.05, "job_stale_after": 0.5}
    fields |= {"job_timeout": 60, "trainer_alive_file": tmp_path / "alive"}
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        redis.Redis.from_url(server.url).flushdb()
        fields["redis_url"] = server.url
    return Settings(**fields)


@pytest.fixture
def queue(settings) -> JobQueue:
    return JobQueue.from_settings(settings)


@pytest.fixture
def api(settings) -> JobQueue:
    """A second opener of the same queue: an API worker in another process."""
    return JobQueue.from_settings(settings)


def spec(model="diabetes", timeout=60.0, dataset="diabetes", **params) -> TrainRequest:
    return TrainRequest(
        model=model, dataset=dataset, hyperparameters=params, promote="always", timeout=timeout
    )


def run_next(queue: JobQueue) -> str | None:
    """Take the next message and run its job, as the trainer's loop does."""
    return Trainer(queue).run_job(queue.take())


def in_background(queue: JobQueue) -> threading.Thread:
    thread = threading.Thread(target=run_next, args=(queue,))
    thread.start()
    return thread


def wait_running(queue: JobQueue, job_id: str) -> dict:
    def running():
        job = queue.get(job_id)
        return job if job["status"] == "running" and job["progress"]["epoch"] > 0 else None

    return wait_until(running, 20, what="the job to run")


def before_next_write(queue: JobQueue, action) -> list:
    """Run `action` once, after `queue`'s next writer read the record and before it writes."""
    real, ran = queue.records.write, []

    def write(*args):
        queue.records.write = real
        ran.append(action())
        return real(*args)

    queue.records.write = write
    return ran


def claim(queue: JobQueue, job_id: str, holder: str = "trainer-1"):
    return queue.claim(job_id, holder)


# --- the basics on both backends ----------------------------------------------------------------


def test_every_opener_sees_the_same_records_and_messages(queue, api, settings):
    job = api.submit(spec(epochs=20, dataset="diabetes"))
    assert job["status"] == "queued" and job["attempts"] == 0
    assert queue.get(job["job_id"]) == job and queue.pending() == 1
    assert run_next(queue) == "succeeded"
    done = api.get(job["job_id"])
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert done["result"]["version"] == 1
    assert ModelStore(settings.store_root).current_version("diabetes") == 1
    assert api.counts() == {"queued": 1, "succeeded": 1, "failed": 0, "cancelled": 0}
    assert queue.records.input(job["job_id"]) is None  # dropped with the end


def test_reading_never_writes(queue):
    job_id = queue.submit(spec(epochs=20, dataset="diabetes"))["job_id"]
    claim(queue, job_id)
    before = queue.records.read(job_id)
    for _ in range(3):
        assert queue.get(job_id)["status"] == "running"
    assert queue.records.read(job_id) == before


def test_messages_travel_as_json_and_a_pickle_is_never_loaded():
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


# --- races, each interleaving forced -------------------------------------------------------------


def test_a_cancel_between_the_claims_read_and_write_wins_and_nothing_runs(queue, api, settings):
    job_id = api.submit(spec(epochs=20, dataset="diabetes"))["job_id"]
    answers = before_next_write(queue, lambda: api.cancel(job_id))
    assert run_next(queue) is None  # the claim lost: it re-read, saw cancelled, skipped
    assert answers[0]["status"] == "cancelled"
    assert queue.get(job_id)["status"] == "cancelled" and queue.get(job_id)["attempts"] == 0
    assert "diabetes" not in ModelStore(settings.store_root).list_models()


def test_a_claim_between_the_cancels_read_and_write_turns_it_into_a_request(queue, api):
    job_id = api.submit(spec(epochs=20, dataset="diabetes"))["job_id"]
    claimed = before_next_write(api, lambda: claim(queue, job_id))
    answer = api.cancel(job_id)
    assert claimed[0] is not None and answer["status"] == "running"
    assert answer["cancel_requested"] is True


def test_a_heartbeat_from_a_stale_copy_keeps_the_cancel_request(queue, api):
    job_id = api.submit(spec(epochs=20, dataset="diabetes"))["job_id"]
    claim(queue, job_id)
    before_next_write(queue, lambda: api.cancel(job_id))
    beat = queue.beat(job_id, "trainer-1", {"epoch": 3, "epochs": 20, "loss": 0.5})
    assert beat.cancel_requested and beat.progress.epoch == 3
    assert api.get(job_id)["cancel_requested"] is True


def test_cancel_and_the_point_of_no_return_exclude_each_other(queue, api):
    first = api.submit(spec(epochs=20, dataset="diabetes"))["job_id"]
    claim(queue, first)
    api.cancel(first)
    with pytest.raises(Conflict, match="cancel was requested"):
        queue.begin_publish(first, "trainer-1")
    second = api.submit(spec(epochs=20, dataset="diabetes"))["job_id"]
    claim(queue, second)
    before_next_write(api, lambda: queue.begin_publish(second, "trainer-1"))
    with pytest.raises(JobFinished, match="publishing"):
        api.cancel(second)
    assert api.get(second)["cancel_requested"] is False


def test_a_reaper_never_overwrites_a_heartbeat_that_landed_after_its_read(queue, settings):
    job_id = queue.submit(spec(epochs=20, dataset="diabetes"))["job_id"]
    claim(queue, job_id)
    now = [0.0]
    reaper = Reaper(JobQueue.from_settings(settings), clock=lambda: now[0])
    assert reaper.sweep() == []
    now[0] = 10.0  # silent for longer than stale_after, by the reaper's clock
    before_next_write(reaper.queue, lambda: queue.beat(job_id, "trainer-1", None))
    assert reaper.sweep() == []  # the beat won; the job is still the trainer's
    job = queue.records.read(job_id)
    assert job.status == "running" and job.claim == "trainer-1"


def test_a_job_settled_by_the_reaper_is_not_the_old_trainers_any_more(queue, settings):
    job_id = queue.submit(spec(epochs=20, dataset="diabetes"))["job_id"]
    claim(queue, job_id)
    now = [0.0]
    reaper = Reaper(JobQueue.from_settings(settings), clock=lambda: now[0])
    reaper.sweep()
    now[0] = settings.job_stale_after
    (requeued,) = reaper.sweep()
    assert requeued.status == "queued" and requeued.requeues == 1 and requeued.claim is None
    for write in (
        lambda: queue.beat(job_id, "trainer-1", None),
        lambda: queue.begin_publish(job_id, "trainer-1"),
        lambda: queue.end(job_id, "trainer-1", "fail", error="late"),
    ):
        with pytest.raises(Conflict):
            write()
    assert queue.messages() == {job_id}  # woken for the next trainer
    assert claim(queue, job_id, "trainer-2")[0].attempts == 2


def test_the_reaper_re_queues_at_most_n_times_then_fails_with_the_reason(queue, settings):
    job_id = queue.submit(spec(epochs=20, dataset="diabetes"))["job_id"]
    now = [0.0]
    reaper = Reaper(queue, clock=lambda: now[0])
    for attempt in range(1, settings.job_max_requeues + 2):
        claim(queue, job_id, f"trainer-{attempt}")
        reaper.sweep()
        now[0] += settings.job_stale_after
        (settled,) = reaper.sweep()
    assert settled.status == "failed" and settled.attempts == settings.job_max_requeues + 1
    assert "stopped sending heartbeats" in settled.error
    assert f"gave up after {settings.job_max_requeues} re-queues" in settled.error
    assert queue.counts()["failed"] == 1


def test_the_reaper_leaves_jobs_of_its_own_process_alone(queue):
    job_id = queue.submit(spec(epochs=20, dataset="diabetes"))["job_id"]
    claim(queue, job_id, "mine")
    now = [0.0]
    reaper = Reaper(queue, held=lambda: {"mine"}, clock=lambda: now[0])
    reaper.sweep()
    now[0] = 100.0
    assert reaper.sweep() == [] and queue.get(job_id)["status"] == "running"


def test_a_lost_message_is_sent_again(queue):
    job_id = queue.submit(spec(epochs=20, dataset="diabetes"))["job_id"]
    queue.take()  # taken by a trainer that died before it claimed the job
    now = [0.0]
    reaper = Reaper(queue, clock=lambda: now[0])
    reaper.sweep()
    assert queue.pending() == 0
    now[0] = 100.0
    reaper.sweep()
    assert queue.messages() == {job_id}
    queue.wake(job_id)  # a duplicate message is harmless: the second claim skips it
    assert run_next(queue) == "succeeded" and run_next(queue) is None


# --- the runner ---------------------------------------------------------------------------------


def test_a_running_job_reports_progress_and_heartbeats(queue, api):
    job = api.submit(spec(model="slow", epochs=100_000, dataset="xor"))
    thread = in_background(queue)
    try:
        first = wait_running(api, job["job_id"])
        assert first["progress"]["epochs"] == 100_000 and first["progress"]["loss"] > 0

        def moved():
            later = api.get(job["job_id"])
            return later["progress"]["epoch"] > first["progress"]["epoch"] and (
                later["heartbeat_at"] > first["heartbeat_at"]
            )

        wait_until(moved, 10, what="more progress and a later heartbeat")
    finally:
        api.cancel(job["job_id"])
        thread.join(20)


def test_a_running_job_keeps_a_bounded_trail_of_its_loss(queue, api):
    job = api.submit(spec(model="trail", epochs=20_000, dataset="xor"))
    run_next(queue)
    trail = api.get(job["job_id"])["progress"]["trail"]
    epochs = [epoch for epoch, _ in trail]
    assert 64 <= len(trail) <= 128 and epochs == sorted(epochs)
    steps = {b - a for a, b in zip(epochs, epochs[1:], strict=False)}
    assert len(steps) == 1 and epochs[-1] > 10_000  # evenly spaced over the whole run
    assert all(loss > 0 for _, loss in trail)


def test_the_latest_jobs_are_listed_newest_first(queue, api):
    ids = [api.submit(spec(model=f"m{i}"))["job_id"] for i in range(3)]
    assert [j["job_id"] for j in queue.recent(10)] == ids[::-1]
    assert [j["job_id"] for j in api.recent(2)] == ids[:0:-1]
    api.cancel(ids[0])
    assert queue.recent(10)[-1]["status"] == "cancelled"


def test_cancelling_a_running_job_stops_it_and_publishes_nothing(queue, api, settings):
    job = api.submit(spec(model="slow", epochs=100_000, dataset="xor"))
    thread = in_background(queue)
    wait_running(api, job["job_id"])
    answer = api.cancel(job["job_id"])
    assert answer["status"] == "running" and answer["cancel_requested"] is True
    thread.join(20)
    final = api.get(job["job_id"])
    assert final["status"] == "cancelled" and final["error"].startswith("cancelled at epoch")
    assert final["cancel_requested"] is False
    assert "slow" not in ModelStore(settings.store_root).list_models()
    with pytest.raises(JobFinished):
        api.cancel(job["job_id"])
    assert api.counts()["cancelled"] == 1


def test_a_job_past_its_budget_fails_and_publishes_nothing(queue, settings):
    job = queue.submit(spec(model="slow", timeout=0.3, epochs=100_000, dataset="xor"))
    assert run_next(queue) == "failed"
    final = queue.get(job["job_id"])
    assert final["error"].startswith("the job ran past its budget of 0.3 s at epoch")
    assert "slow" not in ModelStore(settings.store_root).list_models()


def test_a_trainer_shutting_down_hands_its_job_back(queue, api):
    job = api.submit(spec(model="slow", epochs=100_000, dataset="xor"))
    thread = in_background(queue)
    wait_running(api, job["job_id"])
    queue.stopping.set()
    thread.join(20)
    back = api.get(job["job_id"])
    assert back["status"] == "queued" and back["progress"]["epoch"] == 0
    assert back["attempts"] == 1 and back["requeues"] == 0 and queue.pending() == 1
    queue.stopping.clear()  # the next trainer runs it from the start
    api.cancel(job["job_id"])
    assert run_next(queue) is None and api.get(job["job_id"])["status"] == "cancelled"


def test_features_that_changed_after_submission_fail_the_job_clearly(queue):
    first = queue.submit(spec(model="fresh", epochs=10, dataset="xor"))
    second = queue.submit(spec(model="fresh", epochs=10, dataset="diabetes"))
    assert [run_next(queue), run_next(queue)] == ["succeeded", "failed"]
    assert queue.get(first["job_id"])["status"] == "succeeded"
    failed = queue.get(second["job_id"])
    assert failed["error"].startswith("features do not match model 'fresh'")


def test_a_message_for_a_job_that_is_not_queued_is_skipped(queue, settings):
    job = queue.submit(spec(epochs=10, dataset="diabetes"))
    queue.cancel(job["job_id"])
    assert run_job(queue, job["job_id"]) is None
    assert run_job(queue, "0" * 32) is None  # no such job: nothing happens
    assert queue.get(job["job_id"])["status"] == "cancelled"
    assert "diabetes" not in ModelStore(settings.store_root).list_models()


def test_counts_and_pending(queue):
    jobs = [queue.submit(spec(epochs=10, dataset="diabetes")) for _ in range(3)]
    assert queue.pending() == 3
    queue.cancel(jobs[2]["job_id"])
    run_next(queue)
    assert queue.counts() == {"queued": 3, "succeeded": 1, "failed": 0, "cancelled": 1}


def test_a_job_whose_input_is_unreadable_fails_instead_of_staying_running(queue, monkeypatch):
    job = queue.submit(spec(epochs=10, dataset="diabetes"))
    monkeypatch.setattr(queue.records, "input", lambda job_id: b"not an npz")
    assert run_next(queue) is None
    failed = queue.get(job["job_id"])
    assert failed["status"] == "failed" and "input data is missing or unreadable" in failed["error"]


def test_a_message_that_is_not_ours_is_dropped(queue):
    queue.huey.storage.enqueue(b"not json")
    queue.message_task("not-a-job-id")
    for _ in range(2):
        with pytest.raises(ValueError):
            queue.take()
    assert queue.take() is None and queue.pending() == 0
