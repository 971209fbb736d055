"""Several hosts, at process level: two API instances, two trainers, one Redis, one S3 server.

Each API instance is its own gunicorn master with its own data directory, and so is each
trainer: nothing is shared on disk. All of them share only what several hosts would share: the
job queue (NNS_REDIS_URL, one redis-server) and the model store (NNS_MODEL_STORE=s3://..., one
moto server), plus the same token and settings. The figures printed here are in the README
("Scaling out", "Several hosts"), with the command
`.venv/bin/python -m pytest -q -s tests/process/test_multi_host.py`.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from model_store.format import decode_history_entry, decode_numbered_pointer, newest_first_once
from model_store.s3 import S3Store
from scripts.harness import (
    Gunicorn,
    Proc,
    RedisServer,
    http,
    start_trainer,
    train_cli,
    wait_until,
)
from service.jobs.queue import JobQueue
from service.settings import Settings
from tests.conftest import train
from tests.model_store.s3_servers import S3Server, start_moto
from tests.process.test_training_jobs import Predicting, finished, versions_served

pytestmark = pytest.mark.process

TOKEN = "multi-host-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MODEL = "diabetes"
ROW = {"smoking": 0, "obesity": 1, "exercise": 0}
WORKERS = 2  # gunicorn workers per instance
RELOAD = 0.5  # NNS_RELOAD_INTERVAL of both instances
CONVERGE = 6 * RELOAD  # deadline for both instances to serve a new CURRENT
# Every job here must be made current whatever its metrics: the store's switch is under test,
# not the promotion gate (under "auto" a retrain no better than the current one stays aside).
FAST_JOB = {
    "model": MODEL,
    "dataset": "diabetes",
    "hyperparameters": {"epochs": 300},
    "promote": "always",
}
# Long enough (a few seconds) to be killed while it trains.
LONG_JOB = {**FAST_JOB, "hyperparameters": {"hidden": [64, 64], "epochs": 20000}}
MIN_JOBS, MAX_JOBS = 5, 10  # submitted until each trainer ran at least one
SHARED = {
    "NNS_ADMIN_TOKEN": TOKEN,
    "NNS_RELOAD_INTERVAL": str(RELOAD),
    "NNS_JOB_HEARTBEAT": "0.2",
    "NNS_JOB_STALE_AFTER": "1.5",
}


def stamp(iso: str) -> float:
    """Return a job record's UTC timestamp as seconds since the epoch."""
    return datetime.fromisoformat(iso).timestamp()


class Cluster:
    """The processes of several hosts, run on this one; each host has its own directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.moto: S3Server | None = None
        self.redis: RedisServer | None = None
        self.apis: dict[str, Gunicorn] = {}
        self.trainers: dict[str, Proc] = {}
        self.logs: dict[str, list[Proc]] = {}  # every process a host ran, restarts included
        self.stopped: list[Proc] = []

    def start(self) -> None:
        self.moto = start_moto(self.host("s3"))
        self.client = self.moto.client(self.root)
        self.bucket = self.moto.new_bucket(self.client)
        self.location = f"s3://{self.bucket}/models"
        # The test's own view of the bucket, with its own client (no AWS_* in this process).
        self.store = S3Store(self.location, client=self.client)
        # Seeded once before the instances start, as the README says, by nns-train's script.
        seeded = train_cli(self.location, "--epochs", "300", env=self.aws_env())
        assert (seeded["version"], self.store.current_version(MODEL)) == (1, 1), seeded
        self.redis = RedisServer(self.host("redis") / "redis.log")
        self.env = {
            **self.moto.env(self.root),
            **SHARED,
            "NNS_MODEL_STORE": self.location,
            "NNS_REDIS_URL": self.redis.url,
        }
        for name in ("a", "b"):
            self.start_api(name, wait=False)
        for name in ("t1", "t2"):
            self.start_trainer(name)
        for api in self.apis.values():
            api.wait_ready()
        for name, trainer in self.trainers.items():  # its reaper runs and it takes messages
            wait_until(lambda t=trainer: self.started(t), 60, what=f"trainer {name} to start")
        self.queue = JobQueue.from_settings(
            Settings(data_dir=self.host("test"), redis_url=self.redis.url)
        )

    def aws_env(self) -> dict[str, str]:
        """Return this process's environment with the AWS variables pointing at moto."""
        assert self.moto is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NNS_"))}
        return {**env, **self.moto.env(self.root)}

    def host(self, name: str) -> Path:
        path = self.root / f"host-{name}"
        path.mkdir(exist_ok=True)
        return path

    def _log(self, name: str) -> Path:
        return self.host(name) / f"{name}-{len(self.logs.setdefault(name, [])) + 1}.log"

    def start_api(self, name: str, *, wait: bool = True) -> Gunicorn:
        api = Gunicorn(self.host(name), self._log(name), workers=WORKERS, **self.env)
        self.apis[name] = api
        self.logs[name].append(api)
        if wait:
            api.wait_ready()
        return api

    def start_trainer(self, name: str) -> Proc:
        data_dir = self.host(name)
        env = {**self.env, "NNS_LOG_LEVEL": "INFO"}  # "job ended" lines say who ran what
        env["NNS_TRAINER_ALIVE_FILE"] = str(data_dir / "trainer.alive")
        trainer = start_trainer(data_dir, self._log(name), **env)
        self.trainers[name] = trainer
        self.logs[name].append(trainer)
        return trainer

    @staticmethod
    def started(trainer: Proc) -> bool:
        if not trainer.alive():
            raise RuntimeError(f"trainer exited:\n{trainer.output()[-3000:]}")
        return '"message":"trainer started"' in trainer.output()

    def output(self, name: str) -> str:
        return "".join(proc.output() for proc in self.logs.get(name, []))

    def kill(self, name: str) -> Proc:
        """SIGKILL a host's processes at once (a gunicorn master with its workers), as if the
        host died, and reap them; return the process."""
        proc = self.trainers.get(name) or self.apis[name]
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.stop() == -signal.SIGKILL
        self.stopped.append(proc)
        return proc

    def stop(self) -> None:
        for procs in self.logs.values():
            for proc in procs:
                if proc not in self.stopped:
                    proc.stop()
        for server in (self.redis, self.moto):
            if server is not None:
                server.stop()

    # -- what the hosts did -----------------------------------------------------------------

    def ended(self, name: str) -> dict[str, str]:
        """Return {job id: status} of the jobs trainer `name` ran to their end (all its runs)."""
        found = {}
        for line in self.output(name).splitlines():
            if '"message":"job ended"' in line:
                record = orjson.loads(line)
                found[record["job_id"]] = record["status"]
        return found

    def ran_by(self, job_id: str) -> str:
        """Return the trainer that ended the job as succeeded (its log line follows the record)."""

        def who() -> str | None:
            names = [n for n in self.trainers if self.ended(n).get(job_id) == "succeeded"]
            assert len(names) <= 1, f"job {job_id} succeeded on {names}"
            return names[0] if names else None

        return wait_until(who, 10, what=f"a trainer's log to end job {job_id}")

    def both_serve(self, version: int, timeout: float = CONVERGE) -> float:
        """Wait until every worker of both instances answers with `version`; return time.time().

        A worker looks at CURRENT when a request reaches it, so each poll must reach all of
        them: a round counts only if its answers came from WORKERS distinct workers.
        """

        def converged() -> bool:
            for api in self.apis.values():
                served = served_by_worker(api)
                if len(served) < WORKERS or set(served.values()) != {version}:
                    return False
            return True

        wait_until(converged, timeout, interval=0.02, what=f"both instances to serve {version}")
        served = time.time()
        for name, api in self.apis.items():  # and it stays so
            assert versions_served(api) == {version}, name
        return served

    def promotion_log(self) -> list[tuple[int, int]]:
        """Return the bucket's promotion history: (promotion number, version), in order."""
        prefix = f"models/{MODEL}/PROMOTIONS/"
        page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        entries = [decode_history_entry(o["Key"][len(prefix) :]) for o in page["Contents"]]
        assert None not in entries and not page["IsTruncated"]
        return sorted(entries)

    def check_history(self) -> list[int]:
        """Assert the history is one promotion per number, the last one CURRENT's; return it."""
        log = self.promotion_log()
        assert [number for number, _ in log] == list(range(1, len(log) + 1)), log
        key = f"models/{MODEL}.CURRENT"
        current = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        assert decode_numbered_pointer(current) == (log[-1][1], log[-1][0]), (current, log)
        versions = [version for _, version in log]
        assert self.store.promoted_versions(MODEL) == newest_first_once(versions)
        return versions

    def assert_clean(self) -> None:
        for name in self.logs:
            assert "Traceback" not in self.output(name), f"{name}:\n{self.output(name)[-3000:]}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    hosts = Cluster(tmp_path_factory.mktemp("hosts"))
    try:
        hosts.start()
        yield hosts
    finally:
        hosts.stop()


def served_by_worker(api: Gunicorn, n: int = 16) -> dict[str, int | str]:
    """Send `n` predictions, 8 at a time; return {worker: the version it answered with}.

    A request id the service makes starts with 16 hex digits drawn once per worker process
    (service/web/app.py), so it tells which worker answered. A failure maps to "HTTP <status>".
    """
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: http("POST", api.url + "/predict", ROW), range(n)))
    served: dict[str, int | str] = {}
    for status, headers, body in answers:
        worker = headers["X-Request-ID"][:16]
        version = body["version"] if status == 200 else f"HTTP {status}"
        if served.setdefault(worker, version) != version:
            served[worker] = "both versions"  # swapped within this round: look again
    return served


def submit(api: Gunicorn, body: dict) -> str:
    status, headers, answer = http("POST", api.url + "/train", body, AUTH)
    assert status == 202, answer
    return headers["Location"]


def promote(api: Gunicorn, version: int) -> dict:
    status, _, answer = http("PUT", f"{api.url}/models/{MODEL}/current", {"version": version}, AUTH)
    assert status == 200, answer
    return answer


def figures(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"


def record(cluster: Cluster, job_id: str) -> dict | None:
    """Return the job's record as stored in Redis, with the claim of the trainer holding it."""
    job = cluster.queue.records.read(job_id)
    return None if job is None else job.model_dump()


def running(cluster: Cluster, job_id: str) -> dict:
    """Wait until a trainer is training the job (past epoch 0, not publishing); return it."""

    def training() -> dict | None:
        job = record(cluster, job_id)
        ok = job and job["status"] == "running" and job["progress"]["epoch"] > 0
        return job if ok else None

    job = wait_until(training, 60, what=f"job {job_id} to be training")
    assert not job["publishing"] and job["progress"]["epoch"] < job["progress"]["epochs"], job
    return job


def test_jobs_submitted_to_a_are_served_by_both_instances_whichever_trainer_runs_them(
    cluster: Cluster, capsys
):
    a, b = cluster.apis["a"], cluster.apis["b"]
    ran: dict[str, list[int]] = {name: [] for name in cluster.trainers}
    latencies = []
    for i in range(MAX_JOBS):
        before = cluster.store.versions(MODEL)
        location = submit(a, FAST_JOB)
        job = finished(a, location)
        assert job["status"] == "succeeded", job
        version = job["result"]["version"]
        assert job["result"]["promoted"] and version == before[-1] + 1, job
        latencies.append(cluster.both_serve(version) - stamp(job["finished_at"]))
        assert http("GET", b.url + location)[2] == job  # one record, whichever instance answers
        assert cluster.store.versions(MODEL) == [*before, version]
        ran[cluster.ran_by(job["job_id"])].append(version)
        if i + 1 >= MIN_JOBS and all(ran.values()):
            break
    assert all(ran.values()), f"one trainer ran every job: {ran}"
    assert cluster.store.current_version(MODEL) == version
    cluster.check_history()
    who = ", ".join(f"{name} ran {len(done)}" for name, done in ran.items())
    with capsys.disabled():
        print(
            f"\nmulti-host: {len(latencies)} jobs ({who}); "
            f"job succeeded -> both instances serve it (NNS_RELOAD_INTERVAL {RELOAD} s): "
            f"{figures(latencies)} ({', '.join(f'{x:.2f}' for x in latencies)})"
        )
    cluster.assert_clean()


def test_two_jobs_at_once_one_per_instance_end_on_the_newest_version(cluster: Cluster, capsys):
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
    runners = sorted(cluster.ran_by(job["job_id"]) for job in jobs)
    with capsys.disabled():
        print(
            f"\nmulti-host: two jobs at once (A and B) ran on {runners}; versions {made}, "
            f"{made[-1]} current on both instances; promotions recorded {after[len(history) :]}"
        )
    cluster.assert_clean()


def test_promotions_and_rollbacks_on_b_converge_on_both_instances(cluster: Cluster, capsys):
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
    latencies = []
    for version in targets:
        previous = cluster.store.current_version(MODEL)
        answer = promote(b, version)
        answered = time.time()
        assert (answer["current_version"], answer["previous"]) == (version, previous)
        assert cluster.store.current_version(MODEL) == version
        latencies.append(cluster.both_serve(version) - answered)

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
    with capsys.disabled():
        print(
            f"\nmulti-host: PUT /models/{MODEL}/current on B answered -> both instances serve "
            f"it, {len(latencies)} switches: {figures(latencies)}; two concurrent PUTs (A and "
            f"B) ended on version {final}, history {after[len(history) :]}"
        )
    cluster.assert_clean()


def test_a_trainer_killed_mid_job_loses_nothing(cluster: Cluster, capsys):
    a, b = cluster.apis["a"], cluster.apis["b"]
    before = cluster.store.versions(MODEL)
    location = submit(a, LONG_JOB)
    job_id = location.rsplit("/", 1)[1]
    holder = running(cluster, job_id)["claim"]
    pid = int(holder.split(":")[1])  # host:pid:run
    (victim,) = [name for name, proc in cluster.trainers.items() if proc.pid == pid]
    (survivor,) = set(cluster.trainers) - {victim}
    cluster.kill(victim)
    killed = time.monotonic()

    def taken_over() -> bool:
        job = record(cluster, job_id)
        return job["status"] != "running" or job["attempts"] > 1

    wait_until(taken_over, 20, interval=0.05, what="the survivor's reaper to take the job back")
    detected = time.monotonic() - killed
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
    with capsys.disabled():
        print(
            f"\nmulti-host: trainer {victim} SIGKILLed mid-job; {survivor}'s reaper re-queued "
            f"the job {detected:.1f} s later (NNS_JOB_STALE_AFTER {SHARED['NNS_JOB_STALE_AFTER']} "
            f"s), it ran it and published one version ({version})"
        )
    cluster.assert_clean()


def test_an_instance_killed_mid_job_loses_nothing_and_comes_back_serving_current(
    cluster: Cluster, capsys
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
    with capsys.disabled():
        print(
            f"\nmulti-host: instance A SIGKILLed (master and workers) mid-job; B answered all "
            f"{len(answers)} predictions sent meanwhile with 200; the job succeeded; A "
            f"restarted served the current version ({old}) at once"
        )
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
