"""Several hosts on this machine: two API instances, two trainers, one Redis, one S3 server.

Each API instance is its own gunicorn master with its own data directory, and so is each
trainer: nothing is shared on disk. All of them share only what several hosts would share: the
job queue (NNS_REDIS_URL, one redis-server) and the model store (NNS_MODEL_STORE=s3://..., one
moto server), plus the same token and settings. Used by tests/process/test_multi_host.py and
scripts/bench/bench_hosts.py.
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import orjson

from model_store.format import decode_history_entry, decode_numbered_pointer, newest_first_once
from model_store.s3 import S3Store
from service.jobs.queue import JobQueue
from service.settings import Settings
from tests.support.api import AUTH, ONE, TOKEN, versions_served
from tests.support.harness import (
    Gunicorn,
    Proc,
    RedisServer,
    http,
    start_trainer,
    stop_all,
    train_cli,
    wait_until,
)
from tests.support.s3_servers import S3Server, start_moto

MODEL = "diabetes"
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
        # Seeded once before the instances start, as docs/deploying.md says, by nns-train's script.
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
        """Stop every host's processes, then Redis and the S3 server they used."""
        stop_all(p for procs in self.logs.values() for p in procs if p not in self.stopped)
        stop_all([self.redis, self.moto])

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

        Each worker's watcher looks at CURRENT on its own, so each poll must reach all of
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


def served_by_worker(api: Gunicorn, n: int = 16) -> dict[str, int | str]:
    """Send `n` predictions, 8 at a time; return {worker: the version it answered with}.

    A request id the service makes starts with 16 hex digits drawn once per worker process
    (service/web/app.py), so it tells which worker answered. A failure maps to "HTTP <status>".
    """
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: http("POST", api.url + "/predict", ONE), range(n)))
    served: dict[str, int | str] = {}
    for status, headers, body in answers:
        worker = headers["X-Request-ID"][:16]
        version = body["version"] if status == 200 else f"HTTP {status}"
        if served.setdefault(worker, version) != version:
            served[worker] = "both versions"  # swapped within this round: look again
    return served


def promote(api: Gunicorn, version: int) -> dict:
    status, _, answer = http("PUT", f"{api.url}/models/{MODEL}/current", {"version": version}, AUTH)
    assert status == 200, answer
    return answer


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
