"""Several hosts, at process level (tests/support/cluster.py): two API instances, two trainers,
one Redis, one S3 server, sharing only the queue and the bucket. Jobs, promotions and a host or
a trainer killed mid-job converge on both instances and lose nothing. The latencies are
measured by scripts/bench/bench_hosts.py.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest

from model_store.format import newest_first_once
from tests.support.api import Predicting, finished, submit, versions_served
from tests.support.cluster import (
    CONVERGE,
    FAST_JOB,
    LONG_JOB,
    MODEL,
    Cluster,
    promote,
    record,
    running,
)
from tests.support.harness import http, wait_until
from tests.support.training import train

pytestmark = pytest.mark.process

MIN_JOBS, MAX_JOBS = 5, 10  # submitted until each trainer ran at least one


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    hosts = Cluster(tmp_path_factory.mktemp("hosts"))
    try:
        hosts.start()
        yield hosts
    finally:
        hosts.stop()


def test_jobs_submitted_to_a_are_served_by_both_instances_whichever_trainer_runs_them(
    cluster: Cluster,
):
    a, b = cluster.apis["a"], cluster.apis["b"]
    ran: dict[str, list[int]] = {name: [] for name in cluster.trainers}
    for i in range(MAX_JOBS):
        before = cluster.store.versions(MODEL)
        location = submit(a, FAST_JOB)
        job = finished(a, location)
        assert job["status"] == "succeeded", job
        version = job["result"]["version"]
        assert job["result"]["promoted"] and version == before[-1] + 1, job
        cluster.both_serve(version)
        assert http("GET", b.url + location)[2] == job  # one record, whichever instance answers
        assert cluster.store.versions(MODEL) == [*before, version]
        ran[cluster.ran_by(job["job_id"])].append(version)
        if i + 1 >= MIN_JOBS and all(ran.values()):
            break
    assert all(ran.values()), f"one trainer ran every job: {ran}"
    assert cluster.store.current_version(MODEL) == version
    cluster.check_history()
    cluster.assert_clean()


def test_two_jobs_at_once_one_per_instance_end_on_the_newest_version(cluster: Cluster):
    a, b = cluster.apis["a"], cluster.apis["b"]
    before = cluster.store.versions(MODEL)
    history = cluster.check_history()
    locations = [submit(a, FAST_JOB), submit(b, FAST_JOB)]
    jobs = [finished(b, locations[0]), finished(a, locations[1])]  # each read on the other
    assert [job["status"] for job in jobs] == ["succeeded"] * 2, jobs
    made = sorted(job["result"]["version"] for job in jobs)
    assert made == [before[-1] + 1, before[-1] + 2]  # two numbers, never one twice
    assert cluster.store.versions(MODEL) == [*before, *made]
    assert cluster.store.current_version(MODEL) == made[-1]
    cluster.both_serve(made[-1])
    after = cluster.check_history()
    assert after[: len(history)] == history and after[-1] == made[-1]
    for job in jobs:
        cluster.ran_by(job["job_id"])  # one trainer's log ended each, as succeeded
    cluster.assert_clean()


def test_promotions_and_rollbacks_on_b_converge_on_both_instances(cluster: Cluster):
    b = cluster.apis["b"]
    while len(cluster.store.versions(MODEL)) < 3:  # when run alone
        train(cluster.store, epochs=50)
    versions = cluster.store.versions(MODEL)
    current = cluster.store.current_version(MODEL)
    cluster.both_serve(current)
    history = cluster.check_history()

    # One at a time through B: roll back to the first version, forward, back one.
    targets = []
    for version in (versions[0], versions[-1], versions[-2], versions[-1]):
        if version != (targets or [current])[-1]:
            targets.append(version)
    for version in targets:
        previous = cluster.store.current_version(MODEL)
        answer = promote(b, version)
        assert (answer["current_version"], answer["previous"]) == (version, previous)
        assert cluster.store.current_version(MODEL) == version
        cluster.both_serve(version)

    # Two operators at once, one on each instance: both switches apply, one after the other.
    first, second = versions[0], versions[-2]
    answers: dict[str, dict] = {}
    start = threading.Barrier(2)

    def put(name: str, version: int) -> None:
        start.wait()
        answers[name] = promote(cluster.apis[name], version)

    threads = [threading.Thread(target=put, args=p) for p in (("a", first), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert set(answers) == {"a", "b"}, answers
    final = cluster.store.current_version(MODEL)
    cluster.both_serve(final)

    after = cluster.check_history()
    assert after[: len(history)] == history
    assert after[len(history) : -2] == targets
    assert sorted(after[-2:]) == sorted([first, second]) and after[-1] == final
    expected = newest_first_once([*history, *targets, after[-2], final])
    assert cluster.store.promoted_versions(MODEL) == expected
    cluster.assert_clean()


def test_a_trainer_killed_mid_job_loses_nothing(cluster: Cluster):
    a, b = cluster.apis["a"], cluster.apis["b"]
    before = cluster.store.versions(MODEL)
    location = submit(a, LONG_JOB)
    job_id = location.rsplit("/", 1)[1]
    holder = running(cluster, job_id)["claim"]
    pid = int(holder.split(":")[1])  # host:pid:run
    (victim,) = [name for name, proc in cluster.trainers.items() if proc.pid == pid]
    (survivor,) = set(cluster.trainers) - {victim}
    cluster.kill(victim)

    def taken_over() -> bool:
        job = record(cluster, job_id)
        return job["status"] != "running" or job["attempts"] > 1

    wait_until(taken_over, 20, interval=0.05, what="the survivor's reaper to take the job back")
    job = finished(b, location, timeout=120)  # read through the other instance
    assert job["status"] == "succeeded", job
    assert (job["attempts"], job["requeues"]) == (2, 1), job
    version = job["result"]["version"]
    assert version == before[-1] + 1 and job["result"]["promoted"], job
    assert cluster.store.versions(MODEL) == [*before, version]  # exactly one new version
    assert cluster.ran_by(job_id) == survivor
    assert job_id not in cluster.ended(victim)
    cluster.both_serve(version)

    cluster.start_trainer(victim)  # what a restart policy does; the pool is whole again
    wait_until(lambda: cluster.started(cluster.trainers[victim]), 60, what="the restart")
    location = submit(b, FAST_JOB)
    job = finished(a, location)
    assert job["status"] == "succeeded" and job["attempts"] == 1, job
    cluster.both_serve(job["result"]["version"])
    cluster.check_history()
    cluster.assert_clean()


def test_an_instance_killed_mid_job_loses_nothing_and_comes_back_serving_current(
    cluster: Cluster,
):
    a, b = cluster.apis["a"], cluster.apis["b"]
    before = cluster.store.versions(MODEL)
    old = cluster.store.current_version(MODEL)
    location = submit(a, LONG_JOB)
    running(cluster, location.rsplit("/", 1)[1])
    client = Predicting(b)
    try:
        wait_until(lambda: len(client.answers) >= 5, 10, what="the client to be under way")
        cluster.kill("a")  # the host is gone: master and workers at once
        with pytest.raises(OSError):
            http("GET", a.url + "/health/live", timeout=2)
        job = finished(b, location, timeout=120)  # the job A accepted carries on
        assert job["status"] == "succeeded", job
        version = job["result"]["version"]
        assert version == before[-1] + 1 and cluster.store.versions(MODEL) == [*before, version]
        wait_until(lambda: versions_served(b) == {version}, CONVERGE, what="B to serve it")
        # While A is down, an operator rolls back through B.
        promote(b, old)
        wait_until(lambda: versions_served(b) == {old}, CONVERGE, what="B to roll back")
    finally:
        answers = client.stop()
    assert answers and all(status == 200 for status, _ in answers), {s for s, _ in answers}
    assert {body["version"] for _, body in answers} <= {old, version}

    restarted = cluster.start_api("a")  # the same host, its own data directory, a new port
    assert versions_served(restarted) == {old}  # CURRENT from the bucket, not the newest
    assert http("GET", restarted.url + location)[2] == job
    assert http("GET", restarted.url + "/metrics")[0] == 200
    cluster.both_serve(old)
    cluster.check_history()
    cluster.assert_clean()


def test_the_hosts_share_no_directory_only_redis_and_the_bucket(cluster: Cluster):
    homes = {name: procs[0].log_path.parent for name, procs in cluster.logs.items()}
    assert len(set(homes.values())) == len(homes) == 4, homes  # a, b, t1, t2
    for name, home in homes.items():
        assert not (home / "models").exists(), name  # the store is the bucket
        assert not (home / "jobs.sqlite3").exists(), name  # the queue is Redis
    assert cluster.store.list_models() == [MODEL]
    # Job state lives in Redis: both instances count the same jobs (the test's own view too).
    totals = {}
    for name, api in cluster.apis.items():
        text = http("GET", api.url + "/metrics")[2].decode()
        totals[name] = sorted(re.findall(r"^nns_training_jobs_total\{.*$", text, re.M))
    assert totals["a"] == totals["b"] and len(totals["a"]) == 4, totals
    counts = cluster.queue.counts()
    for line in totals["a"]:
        outcome, value = re.fullmatch(r'.*outcome="(\w+)"\} (\S+)', line).groups()
        assert float(value) == counts[outcome], (line, counts)
