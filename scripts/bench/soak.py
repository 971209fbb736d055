#!/usr/bin/env python
"""Soak test: mixed load on gunicorn and its trainer for a while; report errors, latency and RSS.

Starts its own gunicorn (the repo's config) and trainer on a free 127.0.0.1 port in a temporary
data directory, trains the default model, warms up, then for --duration seconds runs --clients
threads sending a seeded mix of single and batch predictions, V2 inferences, model cards, model
lists and /metrics scrapes, while one training job with promotion is submitted every
--train-every seconds. Prints requests, errors by status, p50/p99 latency per kind, jobs, and
the RSS of every gunicorn worker (VmRSS in /proc/<pid>/status) after warm-up and at the end.

    python scripts/bench/soak.py                      # 60 s, 4 clients, a job every 10 s
    python scripts/bench/soak.py --duration 600 --clients 8 --train-every 30

Exits 1 unless every request and job succeeded and no worker's RSS grew by --max-growth or more.
"""

from __future__ import annotations

import argparse
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from http.client import HTTPException
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.support
from tests.support.harness import Gunicorn, Proc, http, rss_kib, start_trainer, train_cli  # noqa: E402

ROW = {"smoking": 0, "obesity": 1, "exercise": 0}


def call(method: str, url: str, body=None, headers: dict | None = None, timeout: float = 30):
    """Send one request; return (status, parsed JSON or raw bytes); status 0 if no answer."""
    try:
        status, _, answer = http(method, url, body, headers, timeout)
    except (OSError, HTTPException):
        return 0, b""
    return status, answer


class Stack:
    """gunicorn and the trainer on one temporary data directory."""

    def __init__(self, data: Path, workers: int) -> None:
        self.data, self.workers_n = data, workers
        self.token = secrets.token_hex(16)
        self.procs: dict[str, Proc] = {}

    def up(self) -> None:
        train_cli(self.data / "models", "--epochs", "500")
        env = {"NNS_ADMIN_TOKEN": self.token}
        api = Gunicorn(self.data, self.data / "gunicorn.log", self.workers_n, **env)
        self.procs["gunicorn"] = api
        self.procs["trainer"] = start_trainer(self.data, self.data / "trainer.log", **env)
        self.url = api.url
        try:
            api.wait_ready(60)
        except (TimeoutError, RuntimeError) as exc:
            msg = f"gunicorn did not get ready ({exc}); see {self.data}/gunicorn.log"
            raise SystemExit(msg) from None

    def workers(self) -> list[int]:
        return self.procs["gunicorn"].worker_pids()

    def down(self) -> None:
        for proc in self.procs.values():
            proc.stop(40)


class Mix:
    """The client side: weighted request kinds, and every outcome recorded."""

    def __init__(self, url: str, batch: int) -> None:
        bits = [(i % 2, i // 2 % 2, i // 4 % 2) for i in range(batch)]
        rows = [dict(zip(ROW, b, strict=True)) for b in bits]
        tensor = {"name": "features", "datatype": "FP64", "shape": [batch, 3]}
        tensor["data"] = [float(v) for r in rows for v in r.values()]
        self.kinds = [
            # (kind, weight, method, path, body)
            ("predict", 45, "POST", "/predict", ROW),
            ("predict batch", 15, "POST", "/predict", {"instances": rows}),
            ("v2 infer batch", 5, "POST", "/v2/models/diabetes/infer", {"inputs": [tensor]}),
            ("model card", 15, "GET", "/models/diabetes", None),
            ("models", 5, "GET", "/models", None),
            ("metrics", 10, "GET", "/metrics", None),
            ("ready", 5, "GET", "/health/ready", None),
        ]
        self.url = url
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.versions: Counter = Counter()

    def reset(self) -> None:
        with self.lock:
            self.latency.clear(), self.statuses.clear(), self.versions.clear()

    def run(self, stop: threading.Event, seed: int) -> None:
        rng = random.Random(seed)
        weights = [k[1] for k in self.kinds]
        while not stop.is_set():
            kind, _, method, path, body = rng.choices(self.kinds, weights)[0]
            started = time.perf_counter()
            status, answer = call(method, self.url + path, body)
            elapsed = time.perf_counter() - started
            with self.lock:
                self.latency[kind].append(elapsed)
                self.statuses[kind][status] += 1
                if kind == "predict" and status == 200:
                    self.versions[answer["version"]] += 1


class Trainer:
    """Submit a training job with promotion every `every` seconds and follow each to its end."""

    def __init__(self, stack: Stack, every: float) -> None:
        self.stack, self.every = stack, every
        self.outcomes: Counter = Counter()
        self.published: list[int] = []
        self.seconds: list[float] = []

    def run(self, stop: threading.Event) -> None:
        auth = {"Authorization": f"Bearer {self.stack.token}"}
        body = {"model": "diabetes", "dataset": "diabetes", "promote": True}
        body["hyperparameters"] = {"epochs": 300, "seed": 0}
        next_at = time.monotonic() + self.every
        while not stop.wait(max(0.0, next_at - time.monotonic())):
            started, next_at = time.monotonic(), next_at + self.every
            body["hyperparameters"]["seed"] += 1
            status, answer = call("POST", self.stack.url + "/train", body, auth)
            if status != 202:
                self.outcomes[f"submit HTTP {status}"] += 1
                continue
            job = self.follow(answer["job_id"])
            self.outcomes[job["status"]] += 1
            if job["status"] == "succeeded":
                self.published.append(job["result"]["version"])
                self.seconds.append(time.monotonic() - started)

    def follow(self, job_id: str) -> dict:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status, job = call("GET", f"{self.stack.url}/train/jobs/{job_id}")
            if status == 200 and job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(0.2)
        return {"status": "unfinished after 120 s"}


def load(mix: Mix, clients: int, seconds: float, seed: int, trainer: Trainer | None = None):
    stop = threading.Event()
    threads = [threading.Thread(target=mix.run, args=(stop, seed + i)) for i in range(clients)]
    if trainer is not None:
        threads.append(threading.Thread(target=trainer.run, args=(stop,)))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()


def report(args, mix: Mix, trainer: Trainer, rss_start: dict, rss_end: dict) -> bool:
    total = sum(sum(c.values()) for c in mix.statuses.values())
    errors = Counter()
    for counts in mix.statuses.values():
        errors.update({s: n for s, n in counts.items() if not 200 <= s < 300})
    every = np.concatenate([np.asarray(v) for v in mix.latency.values()]) * 1000
    print(f"\nsoak: {args.duration:g} s, {args.clients} clients, {args.workers} workers")
    failed = f"{sum(errors.values())} {dict(errors) if errors else ''}"
    print(f"requests: {total} ({total / args.duration:.0f}/s), errors: {failed}")
    p50, p99 = np.percentile(every, [50, 99])
    print(f"latency all: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    for kind, values in sorted(mix.latency.items()):
        ms = np.asarray(values) * 1000
        print(
            f"  {kind:<15} {len(ms):>7}  p50 {np.percentile(ms, 50):7.1f} ms"
            f"  p99 {np.percentile(ms, 99):7.1f} ms  statuses {dict(mix.statuses[kind])}"
        )
    took = f", {np.mean(trainer.seconds):.1f} s each" if trainer.seconds else ""
    print(f"training jobs: {dict(trainer.outcomes)}{took}; versions published {trainer.published}")
    print(f"predictions by version: {dict(sorted(mix.versions.items()))}")
    growths = []
    print("worker RSS (VmRSS):")
    for pid in sorted(set(rss_start) | set(rss_end)):
        start, end = rss_start.get(pid), rss_end.get(pid)
        if start and end:
            growths.append(end / start - 1)
            note = f"{100 * (end / start - 1):+.1f}%"
        else:
            note = "worker replaced during the run" if start else "new worker"
        print(f"  pid {pid}: start {start or '-'} KiB, end {end or '-'} KiB  {note}")
    jobs_ok = sum(trainer.outcomes.values()) == trainer.outcomes["succeeded"] > 0
    same_workers = set(rss_start) == set(rss_end)
    rss_ok = same_workers and all(g < args.max_growth for g in growths)
    ok = not errors and jobs_ok and rss_ok
    print(
        f"verdict: {'PASS' if ok else 'FAIL'} (errors {sum(errors.values())}, jobs ok {jobs_ok}, "
        f"max RSS growth {100 * max(growths, default=0):.1f}% < {100 * args.max_growth:g}%: "
        f"{rss_ok})"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of measured load")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of load before")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--train-every", type=float, default=10, help="seconds between jobs")
    parser.add_argument("--batch", type=int, default=100, help="rows in a batch request")
    parser.add_argument("--max-growth", type=float, default=0.10, help="RSS growth limit")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="nns-soak-"))
    stack = Stack(data, args.workers)
    try:
        stack.up()
        mix = Mix(stack.url, args.batch)
        print(f"warming up for {args.warmup:g} s on {stack.url} ({data})", flush=True)
        load(mix, args.clients, args.warmup, args.seed, Trainer(stack, args.warmup / 2))
        mix.reset()
        rss_start = {pid: rss_kib(pid) for pid in stack.workers()}
        trainer = Trainer(stack, args.train_every)
        print(f"measuring for {args.duration:g} s", flush=True)
        load(mix, args.clients, args.duration, args.seed + 1000, trainer)
        rss_end = {pid: rss_kib(pid) for pid in stack.workers()}
        ok = report(args, mix, trainer, rss_start, rss_end)
        others = {name: rss_kib(proc.pid) for name, proc in stack.procs.items()}
        print("other RSS: " + ", ".join(f"{name} {kib} KiB" for name, kib in others.items()))
    finally:
        stack.down()
        if args.keep:
            print(f"kept {data}")
        else:
            shutil.rmtree(data, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
