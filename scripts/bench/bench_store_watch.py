#!/usr/bin/env python
"""Serve many models from a moto S3 server and from a filesystem store under wrk; print a table.

For each number of models (10, 100, 1,000 by default) and each store, publishes that many copies
of one small trained model (the diabetes recipe, 3-4-1) named m0000, m0001, ..., starts gunicorn
with the production command line (2 sync workers, NNS_RELOAD_INTERVAL 1 s), waits until every
worker answers, then loads POST /models/m0000/predict with `wrk -t1 -c16` for a few rounds.
A checkout's filesystem and S3 cases are served at once and loaded in turns, round after
round, so that the machine's other work hits them alike; the servers not being loaded are
stopped (SIGSTOP: their watchers would load the machine), and each round waits until the
server and moto are nearly idle (the code before this change goes on looking at the store for
the requests wrk left queued).
It prints the medians of p50, p99 and requests per second (and, per checkout, the median of
the rounds' ratios of S3's p99 to the filesystem's), and for S3 the object-store requests
per second per instance (from moto's request log, so every request that reached the server
counts) and per look (the requests divided by the LISTs of the store's top level: one look
each, whichever code runs).

`--code LABEL=DIR` runs the same cases on other checkouts of the repository (their `service`
and `model_store` packages, published and served by their own code), e.g. main's code before
a change and this one after it, side by side in one run:

    git archive main | tar -x -C /tmp/main-code
    python scripts/bench/bench_store_watch.py --code before=/tmp/main-code --code after=.

Needs wrk (scripts/install_system_deps.sh) and moto[server] (the dev extra). BLAS is pinned to
one thread in every process it starts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root
from tests.support.harness import ROOT, Gunicorn, cpu_seconds, http, train_cli, wait_until  # noqa: E402
from tests.support.s3_servers import S3Server, start_moto  # noqa: E402

LUA = Path(__file__).resolve().parent / "wrk" / "post.lua"
ROW = {"smoking": 0, "obesity": 1, "exercise": 0}
PINNED = {v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
# Run with a checkout's code: copies of the template's newest version, published 4 at a time.
PUBLISH = """
import sys
from concurrent.futures import ThreadPoolExecutor
from model_store import ModelStore, open_store

template, location, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
artifact = ModelStore(template).load("diabetes")
meta = {k: v for k, v in artifact.meta.items() if k != "attachments"}
store = open_store(location)
with ThreadPoolExecutor(4) as pool:
    list(pool.map(lambda i: store.publish(f"m{i:04d}", artifact.arrays, meta), range(count)))
"""


@dataclass
class Case:
    code: str  # label of the checkout
    store: str  # "filesystem" or "S3 (moto)"
    models: int
    boot_s: float = 0.0  # from gunicorn's start to both workers answering
    p50_ms: float | None = None  # None: no request answered within a round
    p99_ms: float | None = None
    rps: float = 0.0
    timeouts: int = 0  # requests wrk gave up on (60 s), all rounds
    unsettled: int = 0  # rounds started while the machine was still busy with the last one
    store_rps: float | None = None  # object-store requests per second, this instance
    per_look: float | None = None  # object-store requests per look


def worker_ids(url: str, n: int = 16) -> set[str]:
    """Return the workers (request-id prefixes) that answered n predictions, all 200."""
    ids = set()
    for _ in range(n):
        status, headers, body = http("POST", f"{url}/models/m0000/predict", ROW, timeout=120)
        if status != 200:
            return set()
        ids.add(headers["X-Request-ID"][:16])
    return ids


def wrk(url: str, seconds: int, body: Path) -> dict:
    argv = ["wrk", "-t1", "-c16", f"-d{seconds}s", "--timeout", "60s", "-s", str(LUA)]
    argv += [f"{url}/models/m0000/predict", "--", str(body)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    summary = json.loads(line.removeprefix("WRK_JSON "))
    errors = {k: v for k, v in summary["errors"].items() if v}
    if set(errors) - {"timeout"}:  # a request that waits on a slow look may time out; no other
        raise RuntimeError(f"failed requests under load: {errors}")
    return summary


def looks(requests: list[str], prefix: str) -> int:
    """Count the looks in moto's request lines: LISTs of the top level, first pages only."""
    top = f"prefix={prefix}/&delimiter=/"
    return sum(top in r and "continuation-token" not in r for r in requests)


@dataclass
class Server:
    """A running case: its gunicorn, its bucket (S3 only) and what each round measured."""

    case: Case
    api: Gunicorn
    started: float  # when gunicorn was started (after publishing)
    bucket: str = ""
    client: Any = None
    rounds: list[dict] = field(default_factory=list)


def start_server(case: Case, code: Path, template: Path, moto: S3Server, tmp: Path) -> Server:
    """Publish case.models copies with the checkout's code, then serve them from it."""
    env, client, bucket = {}, None, ""
    if case.store == "filesystem":
        location = str(tmp / f"store-{case.code}-{case.models}")
    else:
        env, client = moto.env(tmp), moto.client(tmp)
        bucket = moto.new_bucket(client)
        location = f"s3://{bucket}/models"
    publisher = {**os.environ, **env, **PINNED, "PYTHONPATH": str(code)}
    argv = [sys.executable, "-c", PUBLISH, str(template), location, str(case.models)]
    subprocess.run(argv, check=True, env=publisher, cwd=tmp, timeout=3600)
    settings = {
        "NNS_MODEL_STORE": location,
        "NNS_DEFAULT_MODEL": "m0000",
        "NNS_RELOAD_INTERVAL": "1.0",
        "NNS_TIMEOUT": "900",  # loading 1,000 models from S3 takes a while
        "PYTHONPATH": str(code),
        **PINNED,
        **env,
    }
    data = tmp / f"data-{case.code}-{case.store[:2]}-{case.models}"
    data.mkdir()
    api = Gunicorn(data, data / "gunicorn.log", workers=2, cwd=code, **settings)
    return Server(case, api, time.monotonic(), bucket, client)


def wait_serving(server: Server) -> None:
    """Wait until both workers of a server answer; note how long it took from its start.

    Slowly: the code before this change looks at the store inside a request, which takes
    many seconds with 1,000 models on S3.
    """

    def answered() -> bool:
        if not server.api.alive():
            raise RuntimeError(f"gunicorn exited:\n{server.api.output()[-3000:]}")
        try:
            return len(worker_ids(server.api.url)) == 2
        except OSError:  # not listening yet, or a request timed out
            return False

    wait_until(answered, 1800, interval=1, what="both workers to answer")
    server.case.boot_s = time.monotonic() - server.started


def load_once(server: Server, seconds: int, moto: S3Server) -> None:
    """Run one round of wrk on a server; count its object-store requests meanwhile."""
    body = server.api.log_path.parent / "row.json"
    body.write_text(json.dumps(ROW))
    start = moto.mark(server.client, server.bucket) if server.client else 0
    began = time.monotonic()
    summary = wrk(server.api.url, seconds, body)
    if server.client:
        requests = moto.requests(server.bucket, start, moto.mark(server.client, server.bucket))
        summary["store_rps"] = len(requests) / (time.monotonic() - began)
        summary["per_look"] = len(requests) / max(looks(requests, "models"), 1)
    server.rounds.append(summary)


def summarise(server: Server) -> None:
    """Keep the medians over the rounds in the server's case."""
    case, rounds = server.case, server.rounds
    answered = [r for r in rounds if r["requests"]]  # wrk has no latency for no answer
    if answered:
        case.p50_ms = statistics.median(r["p50_us"] for r in answered) / 1000
        case.p99_ms = statistics.median(r["p99_us"] for r in answered) / 1000
    case.rps = statistics.median(r["requests"] / (r["duration_us"] / 1e6) for r in rounds)
    case.timeouts = sum(r["errors"]["timeout"] for r in rounds)
    if server.client:
        case.store_rps = statistics.median(r["store_rps"] for r in rounds)
        case.per_look = statistics.median(r["per_look"] for r in rounds)


def p99_ratios(servers: list[Server]) -> list[str]:
    """Return, per checkout, the median over rounds of S3's p99 / the filesystem's p99."""
    lines = []
    for code in dict.fromkeys(s.case.code for s in servers):
        by_store = {s.case.store: s.rounds for s in servers if s.case.code == code}
        if len(by_store) == 2:
            fs, s3 = by_store["filesystem"], by_store["S3 (moto)"]
            pairs = [(a, b) for a, b in zip(fs, s3, strict=True) if a["requests"] and b["requests"]]
            if not pairs:
                continue
            ratio = statistics.median(b["p99_us"] / a["p99_us"] for a, b in pairs)
            lines.append(
                f"{code}, {servers[0].case.models:,} models: p99 S3 / filesystem {ratio:.2f}"
            )
    return lines


def cpu_used(pids: list[int], seconds: float = 1.0) -> list[float]:
    """Return the CPU seconds each process used over the next `seconds`."""
    before = [cpu_seconds(pid) for pid in pids]
    time.sleep(seconds)
    return [cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]


def settle(server: Server, moto: S3Server) -> bool:
    """Wait until moto and the server's workers are nearly idle (the code before this change
    goes on looking for the requests wrk left queued); False if not within 3 minutes."""
    deadline = time.monotonic() + 180
    # Idle with 1,000 models, a watcher's looks take about 5% of a core, and moto answering
    # them 40%; the code before this change looking for queued requests keeps moto busy.
    while (used := cpu_used([moto.proc.pid, *server.api.worker_pids()]))[0] > 0.6 or max(
        used[1:]
    ) > 0.15:
        if time.monotonic() > deadline:
            return False
    return True


def signal_group(server: Server, sig: int) -> None:
    """Send a signal to a server's master and workers (its own session and process group)."""
    os.killpg(server.api.pid, sig)


def run_models(models: int, codes, stores, template, moto, args, tmp) -> tuple[list, list]:
    """For each checkout, serve every store's case at once and load them in turns."""
    cases, ratios = [], []
    for label, code in codes:
        servers: list[Server] = []
        try:
            for store in stores:
                case = Case(label, store, models)
                servers.append(start_server(case, code, template, moto, tmp))
            for server in servers:
                wait_serving(server)
            for server in servers:
                signal_group(server, signal.SIGSTOP)
            for _ in range(args.rounds):  # interleaved: the machine's load hits each alike
                for server in servers:
                    # Only this one runs: an idle server's watchers would load the machine.
                    signal_group(server, signal.SIGCONT)
                    server.case.unsettled += not settle(server, moto)
                    load_once(server, args.duration, moto)
                    signal_group(server, signal.SIGSTOP)
        finally:
            for server in servers:
                signal_group(server, signal.SIGCONT)
                server.api.stop()
        for server in servers:
            if "Traceback" in server.api.output():
                raise RuntimeError(f"gunicorn logged a traceback:\n{server.api.output()[-3000:]}")
            summarise(server)
        cases += [s.case for s in servers]
        ratios += p99_ratios(servers)
    return cases, ratios


def print_table(cases: list[Case]) -> None:
    print(
        "| code | store | models | p50 ms | p99 ms | req/s | store req/s | req/look | boot s "
        "| timeouts | unsettled |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for c in cases:
        store_rps = "-" if c.store_rps is None else f"{c.store_rps:,.1f}"
        p50, p99 = ("none", "none") if c.p50_ms is None else (f"{c.p50_ms:.1f}", f"{c.p99_ms:.1f}")
        per_look = "-" if c.per_look is None else f"{c.per_look:,.1f}"
        print(
            f"| {c.code} | {c.store} | {c.models:,} | {p50} | {p99} "
            f"| {c.rps:,.0f} | {store_rps} | {per_look} | {c.boot_s:.0f} | {c.timeouts} "
            f"| {c.unsettled} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--stores", nargs="+", default=["filesystem", "s3"])
    parser.add_argument("--code", action="append", default=[], help="LABEL=DIR, repeatable")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    codes = [(label, Path(d).resolve()) for label, d in (c.split("=", 1) for c in args.code)]
    codes = codes or [("this", ROOT)]
    chosen = [{"filesystem": "filesystem", "s3": "S3 (moto)"}[s] for s in args.stores]
    with tempfile.TemporaryDirectory(prefix="bench-store-watch-") as tmp_name:
        tmp = Path(tmp_name)
        template = tmp / "template"
        train_cli(template)  # the diabetes recipe
        moto = start_moto(tmp)
        cases, ratios = [], []
        try:
            for models in args.models:
                done = run_models(models, codes, chosen, template, moto, args, tmp)
                cases += done[0]
                ratios += done[1]
                print(*done[0], *done[1], sep="\n", file=sys.stderr, flush=True)
        finally:
            moto.stop()
            print_table(cases)  # what was measured, even if a later case failed
            print(*ratios, sep="\n")


if __name__ == "__main__":
    main()
