#!/usr/bin/env python
"""Several hosts on this machine: how soon both API instances serve a new version, and what a
killed trainer or gunicorn worker costs.

Starts what tests/process/test_multi_host.py starts (tests/support/cluster.py): two API
instances (gunicorn, 2 workers each, NNS_RELOAD_INTERVAL 0.5 s), two trainers (heartbeat 0.2 s,
stale after 1.5 s), one redis-server and one moto S3 server, on free 127.0.0.1 ports in a
temporary directory. Then it measures, in this order:

- a job submitted to A succeeded -> every worker of both instances serves its version;
- PUT /models/diabetes/current on B answered -> both instances serve the version;
- the trainer running a job SIGKILLed -> the other trainer's reaper takes the job back;
- a worker of A SIGKILLed under 4 clients' load -> its replacement runs; requests that failed.

    python scripts/bench/bench_hosts.py                       # 5 jobs, 4 switches
    python scripts/bench/bench_hosts.py --jobs 10 --switches 8
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # the trainers and the workers share the cores with each other

import argparse  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.support
from tests.support.api import Predicting, finished, submit  # noqa: E402
from tests.support.cluster import (  # noqa: E402
    FAST_JOB,
    LONG_JOB,
    MODEL,
    RELOAD,
    SHARED,
    Cluster,
    promote,
    record,
    running,
    stamp,
)
from tests.support.harness import wait_until  # noqa: E402


def seconds(values: list[float]) -> str:
    listed = ", ".join(f"{v:.2f}" for v in values)
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s ({listed})"


def jobs_to_served(cluster: Cluster, n: int) -> tuple[list[float], Counter]:
    """Submit `n` jobs to A; return job finished -> both serve it, and who ran how many."""
    a, latencies, ran = cluster.apis["a"], [], Counter()
    for _ in range(n):
        job = finished(a, submit(a, FAST_JOB))
        if job["status"] != "succeeded":
            raise RuntimeError(f"a job failed: {job}")
        latencies.append(cluster.both_serve(job["result"]["version"]) - stamp(job["finished_at"]))
        ran[cluster.ran_by(job["job_id"])] += 1
    return latencies, ran


def switches_to_served(cluster: Cluster, n: int) -> list[float]:
    """Switch CURRENT through B `n` times between the two newest versions; return latencies."""
    newest = cluster.store.versions(MODEL)[-2:]
    latencies = []
    for i in range(n):
        version = newest[i % 2]  # the older first: the newest is current after the jobs
        promote(cluster.apis["b"], version)
        answered = time.time()
        latencies.append(cluster.both_serve(version) - answered)
    return latencies


def trainer_killed(cluster: Cluster) -> str:
    """Kill the trainer running a long job; return what happened, with the takeover time."""
    a = cluster.apis["a"]
    location = submit(a, LONG_JOB)
    job_id = location.rsplit("/", 1)[1]
    pid = int(running(cluster, job_id)["claim"].split(":")[1])  # host:pid:run
    (victim,) = [name for name, proc in cluster.trainers.items() if proc.pid == pid]
    cluster.kill(victim)
    killed = time.monotonic()

    def taken_over() -> bool:
        job = record(cluster, job_id)
        return job["status"] != "running" or job["attempts"] > 1

    wait_until(taken_over, 30, interval=0.05, what="the other trainer's reaper")
    taken = time.monotonic() - killed
    job = finished(a, location, timeout=180)
    cluster.start_trainer(victim)
    return (
        f"trainer {victim} SIGKILLed mid-job: the job was taken back {taken:.1f} s later "
        f"(NNS_JOB_STALE_AFTER {SHARED['NNS_JOB_STALE_AFTER']} s) and ended {job['status']} "
        f"(attempts {job['attempts']}, requeues {job['requeues']})"
    )


def worker_killed(cluster: Cluster) -> str:
    """SIGKILL a worker of A under load; return how soon it was replaced and what failed."""
    a = cluster.apis["a"]
    before = set(wait_until(lambda: len(a.worker_pids()) == 2 and a.worker_pids(), 10))
    load = Predicting(a, threads=4)
    try:
        wait_until(lambda: len(load.answers) >= 100, 20, what="the load to be answered")
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()

        def replaced() -> set[int]:
            pids = set(a.worker_pids())
            return len(pids) == 2 and victim not in pids and pids - before

        (new,) = wait_until(replaced, 15, what="the master to start a new worker")
        took = time.monotonic() - killed
        served = cluster.host("a") / "metrics" / f"counter_{new}.db"
        wait_until(served.exists, 20, what="the replacement to take its share of the load")
    finally:
        statuses = Counter(status for status, _ in load.stop())
    failed = sum(n for status, n in statuses.items() if status != 200)
    return (
        f"a worker of A SIGKILLed under 4 clients: replaced in {took:.2f} s; {failed} of "
        f"{sum(statuses.values())} requests failed ({dict(statuses)})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=5, help="jobs submitted to A (default 5)")
    ap.add_argument("--switches", type=int, default=4, help="PUTs through B (default 4)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nns-hosts-") as tmp:
        cluster = Cluster(Path(tmp))
        try:
            cluster.start()
            jobs, ran = jobs_to_served(cluster, args.jobs)
            switches = switches_to_served(cluster, args.switches)
            lines = [trainer_killed(cluster), worker_killed(cluster)]
        finally:
            cluster.stop()
    who = ", ".join(f"{name} ran {n}" for name, n in sorted(ran.items()))
    print(
        f"### Several hosts: 2 API instances x 2 workers, 2 trainers, redis, moto S3; "
        f"NNS_RELOAD_INTERVAL {RELOAD} s; {os.cpu_count()} cores\n\n"
        f"- job succeeded -> both instances serve it, {args.jobs} jobs ({who}): {seconds(jobs)}\n"
        f"- PUT /models/{MODEL}/current on B answered -> both instances serve it, "
        f"{args.switches} switches: {seconds(switches)}\n" + "".join(f"- {x}\n" for x in lines)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
