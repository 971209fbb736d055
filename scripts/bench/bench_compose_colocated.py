#!/usr/bin/env python
"""Single-row /predict through the default compose while a training job runs beside it.

The trainer container's CPU shares are set live (`docker update --cpu-shares`) to Docker's
default 1024 and to the compose file's 256; between them, a phase with no job. Each phase is
wrk -t1 -c4 for 10 s on `POST /predict` through the lb service, phases interleaved over 3
rounds; medians. The job: moons, 200,000 rows, 2-64-1, cancelled once wrk is done.

    export API_PORT=18080 NNS_ADMIN_TOKEN=$(python3 -c "print('t' * 40)") NNS_MAX_TRAIN_ROWS=200000
    docker compose -p nnscheck up --build --wait -d
    python scripts/bench/bench_compose_colocated.py
    docker compose -p nnscheck down

Needs wrk and docker on PATH (DOCKER_HOST set for a private engine).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

URL = f"http://127.0.0.1:{os.environ.get('API_PORT', '8000')}"
LUA = Path(__file__).resolve().parent / "wrk" / "post.lua"
ROW = {"smoking": 1, "obesity": 1, "exercise": 0}
TRAINER = os.environ.get("TRAINER_CONTAINER", "nnscheck-trainer-1")
AUTH = {
    "Authorization": f"Bearer {os.environ['NNS_ADMIN_TOKEN']}",
    "Content-Type": "application/json",
}
JOB = {
    "model": "slow",
    "dataset": "moons",
    "samples": 200_000,
    "promote": "never",
    "hyperparameters": {"hidden": [64], "epochs": 10_000},
}


def call(method: str, path: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method, headers=AUTH)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def wrk() -> tuple[float, float, float]:
    """Return (req/s, p50 ms, p99 ms) of 10 s of single-row predictions."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as body:
        body.write(json.dumps(ROW))
        body.flush()
        argv = ["wrk", "-t1", "-c4", "-d10s", "-s", str(LUA), URL + "/predict", "--", body.name]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    got = json.loads(line.removeprefix("WRK_JSON "))
    return got["requests"] / got["duration_us"] * 1e6, got["p50_us"] / 1000, got["p99_us"] / 1000


def job_state(location: str) -> tuple[str, int]:
    job = call("GET", location)[1]
    return job["status"], (job.get("progress") or {}).get("epoch", 0)


def phase(shares: int | None) -> tuple[float, float, float]:
    """Measure once: no job (None), or a job with the trainer container at `shares`."""
    if shares is None:
        return wrk()
    argv = ["docker", "update", "--cpu-shares", str(shares), TRAINER]
    subprocess.run(argv, check=True, capture_output=True)
    status, job = call("POST", "/train", JOB)
    assert status == 202, job
    location = f"/train/jobs/{job['job_id']}"
    deadline = time.monotonic() + 120
    while job_state(location) < ("running", 1):  # "running" sorts before the ended states
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.5)
    result = wrk()
    call("DELETE", location)
    while job_state(location)[0] not in ("cancelled", "failed", "succeeded"):
        time.sleep(0.5)
    return result


def main() -> int:
    phases = [None, 1024, 256]
    results: dict[int | None, list] = {p: [] for p in phases}
    for round_ in range(3):
        for p in phases:
            results[p].append(phase(p))
        print(f"round {round_ + 1} of 3 done", file=sys.stderr)
    idle = statistics.median(x[2] for x in results[None])
    print("| phase | req/s | p50 ms | p99 ms | p99 / idle p99 |\n|---|--:|--:|--:|--:|")
    for p in phases:
        rps, p50, p99 = (statistics.median(x[i] for x in results[p]) for i in range(3))
        name = "idle (no job)" if p is None else f"job, trainer cpu_shares {p}"
        print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {p99 / idle:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
