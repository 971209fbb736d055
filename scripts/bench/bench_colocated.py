#!/usr/bin/env python
"""Single-row /predict latency while the trainer runs a large job on the same host.

One gunicorn (2 sync workers, the production command line) serves diabetes; a trainer beside it
runs a job on ROWS rows of two moons (a 2-64-1 network, mini-batches of 128: CPU-bound work
that outlasts the measurement). wrk loads `POST /predict` with one row over CONNECTIONS
connections for DURATION seconds in three phases, interleaved round after round so the
machine's other load hits them alike: no job (idle), a job with the trainer at niceness 0, and
a job at the default NNS_TRAINER_NICE (10). Each job is cancelled once wrk is done. The table
gives the medians over rounds of p50 and p99, and p99 over idle's p99 (the issue's target:
within 1.2x). wrk itself shares the 2 cores.

    python scripts/bench/bench_colocated.py                      # 3 rounds x 10 s, 200,000 rows
    python scripts/bench/bench_colocated.py --rounds 5 --rows 1000000 --nice 0 10 19

Needs wrk (scripts/install_system_deps.sh installs it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root

from service.settings import Settings  # noqa: E402
from tests.support.harness import Gunicorn, http, start_trainer, train_cli, wait_until  # noqa: E402

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk" / "post.lua"
TOKEN = "bench-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROW = b'{"smoking": 0, "obesity": 1, "exercise": 0}'


def wrk(url: str, body: Path, seconds: int, connections: int) -> dict:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    argv += ["-s", str(LUA), url + "/predict", "--", str(body)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    summary = json.loads(line.removeprefix("WRK_JSON "))
    if sum(summary["errors"].values()):
        raise RuntimeError(f"failed requests: {summary['errors']}")
    return summary


def job_running(api: Gunicorn, rows: int) -> str:
    """Queue the large job and return its id once the trainer is past its first epoch."""
    body = {"model": "load", "dataset": "moons", "samples": rows, "promote": "never"}
    body["hyperparameters"] = {"hidden": [64], "epochs": 100_000, "validation_split": 0.0}
    status, _, answer = http("POST", api.url + "/train", body, AUTH)
    if status != 202:
        raise RuntimeError(f"the job was refused: {answer}")
    url = f"{api.url}/train/jobs/{answer['job_id']}"

    def started() -> bool:
        job = http("GET", url)[2]
        if job["status"] in ("failed", "cancelled", "succeeded"):
            raise RuntimeError(f"the job ended early: {job}")
        return job["status"] == "running" and job["progress"]["epoch"] >= 1

    wait_until(started, 300, interval=0.2, what="the job's first epoch")
    return url


def stop_job(url: str) -> None:
    http("DELETE", url, headers=AUTH)
    wait_until(lambda: http("GET", url)[2]["status"] == "cancelled", 120, what="the cancel")


def phase(api: Gunicorn, data: Path, nice: int | None, args) -> dict:
    """Measure once: no trainer job (nice None), or a job with the trainer at `nice`."""
    if nice is None:
        return wrk(api.url, data / "row.json", args.duration, args.connections)
    env = {"NNS_ADMIN_TOKEN": TOKEN, "NNS_TRAINER_NICE": str(nice)}
    env["NNS_MAX_TRAIN_ROWS"] = str(args.rows)
    trainer = start_trainer(data, data / f"trainer-{nice}.log", **env)
    try:
        url = job_running(api, args.rows)
        result = wrk(api.url, data / "row.json", args.duration, args.connections)
        stop_job(url)
        return result
    finally:
        trainer.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000, help="rows of the training job")
    p.add_argument("--duration", type=int, default=10, help="seconds of wrk per phase")
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--nice", type=int, nargs="+", default=[0, Settings().trainer_nice])
    args = p.parse_args(argv)
    phases: list[int | None] = [None, *args.nice]
    results: dict = {n: [] for n in phases}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        train_cli(data / "models")
        (data / "row.json").write_bytes(ROW)
        env = {"NNS_ADMIN_TOKEN": TOKEN, "NNS_MAX_TRAIN_ROWS": str(args.rows)}
        api = Gunicorn(data, data / "gunicorn.log", workers=2, **env)
        try:
            api.wait_ready()
            for r in range(args.rounds):
                for nice in phases:
                    results[nice].append(phase(api, data, nice, args))
                    time.sleep(1)  # let the cancelled job's trainer go before the next phase
                print(f"round {r + 1} of {args.rounds} done", file=sys.stderr, flush=True)
        finally:
            api.stop()
    idle = statistics.median(s["p99_us"] for s in results[None])
    print(
        f"single-row POST /predict, wrk -t1 -c{args.connections}, {args.rounds} rounds x "
        f"{args.duration} s; the job: moons, {args.rows:,} rows, 2-64-1, batch 128"
    )
    print("| phase | req/s | p50 ms | p99 ms | p99 / idle p99 |")
    print("|---|--:|--:|--:|--:|")
    for nice in phases:
        runs = results[nice]
        name = "idle (no job)" if nice is None else f"job, trainer at nice {nice}"
        rps = statistics.median(s["requests"] / s["duration_us"] * 1e6 for s in runs)
        p50 = statistics.median(s["p50_us"] for s in runs) / 1000
        p99 = statistics.median(s["p99_us"] for s in runs)
        print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99 / 1000:.2f} | {p99 / idle:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
