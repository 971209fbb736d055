#!/usr/bin/env python
"""Load the service and a bare Flask app, served alike by gunicorn, with wrk; print a table.

Trains two models into a temporary store with scripts/train.py: diabetes (three 0/1 features,
3-4-1 sigmoid) and moons (two numeric features, 2-64-64-1 relu). Then starts gunicorn twice
with the production command line (service.web.serve.gunicorn_argv) and the same NNS_* settings:
once with the service, once with scripts/bench/bare_app.py, whose POST endpoint returns a constant
JSON object. Metrics and logging stay on (the servers' stdout, access logs included, goes to a
log file). Each case is loaded with `wrk -t1 -c16` on 127.0.0.1; cases run interleaved, round
after round, so noise from other work on the machine hits them alike; the table shows medians,
and each ratio is the median of ratios measured seconds apart. wrk shares the cores with the
workers. Cases: the bare endpoint, single-row and batch /predict for each model, and V2 infer
on diabetes.

    python scripts/bench/bench_serve.py                           # 2 sync workers, 5 rounds x 3 s
    python scripts/bench/bench_serve.py --threads 1 4 --duration 3      # sync vs gthread (2 x 4)

Needs wrk (Debian: apt-get install wrk; scripts/install_system_deps.sh installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.support
from bare_app import ANSWER  # noqa: E402 (this folder is sys.path[0])

from tests.support.harness import Gunicorn, http, train_cli, wait_until  # noqa: E402

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk" / "post.lua"
FEATURES = ("smoking", "obesity", "exercise")
SINGLE_RATIO_TARGET, BATCH_ROWS_TARGET = 0.85, 1_200_000
# (model, how scripts/train.py trains it): a 0/1 model and a numeric one.
MODELS = {
    "diabetes": (),
    "moons": ("--dataset", "moons", "--hidden", "64,64", "--activation", "relu",
              "--epochs", "200", "--batch-size", "64"),
}  # fmt: skip
TARGETED = [("diabetes", "single", "batch"), ("moons", "moons_single", "moons_batch")]


@dataclass(frozen=True)
class Case:
    """One kind of request: where it goes, its body, and how to tell its answer is right."""

    key: str
    label: str
    server: str  # "app" or "bare"
    path: str
    body: bytes
    rows: int
    content_type: str = "application/json"
    headers: tuple[str, ...] = ()
    check: Callable[[bytes], bool] = lambda raw: True


@dataclass
class Result:
    rps: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    balance: list[float] = field(default_factory=list)  # least / most busy worker, by CPU time
    cpu_us: list[float] = field(default_factory=list)  # worker CPU time per request


def post(url: str, case: Case, timeout: float = 5) -> tuple[int, bytes]:
    headers = {"Content-Type": case.content_type}
    headers.update(h.split(": ", 1) for h in case.headers)
    req = urllib.request.Request(url + case.path, data=case.body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_answering(server: Gunicorn, case: Case, timeout: float = 60) -> None:
    """Wait until `server` answers `case` with 200 and a correct body (503: still loading)."""

    def answered() -> bool:
        if not server.alive():
            raise RuntimeError(f"{server.log_path.name}: exited:\n{server.output()[-3000:]}")
        try:
            status, raw = post(server.url, case)
        except OSError:
            return False
        if status not in (200, 503) or (status == 200 and not case.check(raw)):
            raise RuntimeError(f"{case.label} answered {status}: {raw[:300]!r}")
        return status == 200

    wait_until(answered, timeout, interval=0.1, what=f"{server.url} to answer {case.label}")


def refuse_wrong_answers(cases: list[Case]) -> None:
    """Fail unless every case's check can fail: an error, an empty object, an empty batch."""
    wrong = [b'{"error": "wrong", "code": "validation_error"}', b"{}"]
    wrong.append(b'{"model": "diabetes", "version": 1, "predictions": []}')
    for case in cases:
        if any(case.check(raw) for raw in wrong):
            raise RuntimeError(f"{case.label}: its check accepts a wrong answer")


def wrk(server: Gunicorn, case: Case, seconds: int, connections: int, body_dir: Path) -> dict:
    """Run wrk once against `case`; return its JSON summary plus the workers' CPU balance."""
    body = body_dir / f"{case.key}.body"
    if not body.exists():
        body.write_bytes(case.body)
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    argv += ["-s", str(LUA), server.url + case.path, "--", str(body), case.content_type]
    argv += case.headers
    before = server.worker_cpu()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    after = server.worker_cpu()
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    summary = json.loads(line.removeprefix("WRK_JSON "))
    bad = sum(summary["errors"].values())
    if bad:
        raise RuntimeError(f"{case.label}: {bad} failed requests: {summary['errors']}")
    used = [after[p] - before.get(p, 0.0) for p in after]
    summary["balance"] = min(used) / max(used) if len(used) > 1 and max(used) > 0 else 1.0
    summary["cpu_us"] = sum(used) / max(summary["requests"], 1) * 1e6
    return summary


def _answer(raw: bytes) -> dict:
    try:
        return json.loads(raw)
    except ValueError:
        return {}


def _rows(n: int) -> str:
    return f"{n:,} row{'s' if n != 1 else ''}"


def predict_cases(batch: int, rng: np.random.Generator) -> list[Case]:
    """Return the bare endpoint, then single-row and `batch`-row /predict for each model."""
    diabetes_row = {"smoking": 0, "obesity": 1, "exercise": 0}
    bits = rng.integers(0, 2, size=(batch, len(FEATURES))).tolist()
    diabetes_rows = [dict(zip(FEATURES, r, strict=True)) for r in bits]
    moons_row = {"x1": 0.4321, "x2": -0.1234}
    points = np.round(rng.uniform([-1.5, -1.0], [2.5, 1.5], size=(batch, 2)), 6).tolist()
    moons_rows = [{"x1": x1, "x2": x2} for x1, x2 in points]

    def one(model: str):
        return lambda raw: _answer(raw).get("model") == model and "label" in _answer(raw)

    def many(model: str, n: int):
        return lambda raw: (
            _answer(raw).get("model") == model and len(_answer(raw).get("predictions", ())) == n
        )

    single_body = json.dumps(diabetes_row).encode()
    return [
        Case("bare", "bare POST / (constant JSON)", "bare", "/", single_body, 1,
             check=lambda raw: _answer(raw) == ANSWER),
        Case("single", f"POST /predict, diabetes, {_rows(1)}", "app", "/predict", single_body, 1,
             check=lambda raw: _answer(raw).get("label") == 1),
        Case("batch", f"POST /predict, diabetes, {_rows(batch)}", "app", "/predict",
             json.dumps({"instances": diabetes_rows}).encode(), batch,
             check=many("diabetes", batch)),
        Case("moons_single", f"POST /models/moons/predict, {_rows(1)}", "app",
             "/models/moons/predict", json.dumps(moons_row).encode(), 1, check=one("moons")),
        Case("moons_batch", f"POST /models/moons/predict, {_rows(batch)}", "app",
             "/models/moons/predict", json.dumps({"instances": moons_rows}).encode(), batch,
             check=many("moons", batch)),
    ]  # fmt: skip


# --- Open Inference Protocol V2 rows ------------------------------------------------------------
# Added automatically when GET /v2 answers 200 on the started service (and --v2 is not "off").
def v2_cases(model: str, batch: int, rng: np.random.Generator) -> list[Case]:
    """Return POST /v2/models/{model}/infer cases: 1 and `batch` rows, JSON and binary tensors."""
    path = f"/v2/models/{model}/infer"
    cases = []
    for n in (1, batch):
        X = rng.integers(0, 2, size=(n, len(FEATURES))).astype("<f4")
        tensor = {"name": "features", "shape": [n, len(FEATURES)], "datatype": "FP32"}
        as_json = {"inputs": [{**tensor, "data": X.ravel().tolist()}]}
        header = {"inputs": [{**tensor, "parameters": {"binary_data_size": X.nbytes}}]}
        head = json.dumps(header).encode()

        def check(raw: bytes, n=n) -> bool:
            outputs = _answer(raw).get("outputs") or [{}]
            return (outputs[0].get("shape") or [None])[0] == n

        cases.append(
            Case(f"v2json{n}", f"V2 infer, {_rows(n)}, JSON", "app", path,
                 json.dumps(as_json).encode(), n, check=check)
        )  # fmt: skip
        cases.append(
            Case(f"v2bin{n}", f"V2 infer, {_rows(n)}, binary", "app", path, head + X.tobytes(),
                 n, "application/octet-stream", (f"Inference-Header-Content-Length: {len(head)}",),
                 check=check)
        )  # fmt: skip
    return cases


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(title: str, cases: list[Case], results: dict[str, Result], rounds: int) -> list[str]:
    """Return the markdown table of one server configuration, and its target checks."""
    bare = results["bare"].rps
    lines = [
        f"#### {title}",
        "",
        "| endpoint | req/s (median) | req/s (min-max) | rows/s | p50 ms | p99 ms "
        "| vs bare | worker CPU us/req | worker balance |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for case in cases:
        r = results[case.key]
        ratio = median([a / b for a, b in zip(r.rps, bare, strict=True)])
        lines.append(
            f"| {case.label} | {median(r.rps):,.0f} | {min(r.rps):,.0f}-{max(r.rps):,.0f} "
            f"| {median(r.rps) * case.rows:,.0f} | {median(r.p50_ms):.2f} | {median(r.p99_ms):.2f} "
            f"| {ratio:.2f} | {median(r.cpu_us):,.0f} "
            f"| {median(r.balance):.2f} (worst {min(r.balance):.2f}) |"
        )
    lines.append("")
    for model, single_key, batch_key in TARGETED:
        if single_key in results:
            ratio = median([a / b for a, b in zip(results[single_key].rps, bare, strict=True)])
            met = "met" if ratio >= SINGLE_RATIO_TARGET else "NOT met"
            lines.append(
                f"- {model}: single-row /predict vs bare: **{ratio:.3f}** "
                f"(target >= {SINGLE_RATIO_TARGET:.2f}: {met})"
            )
        case = next((c for c in cases if c.key == batch_key), None)
        if case is not None:
            rows = median(results[batch_key].rps) * case.rows
            lines.append(
                f"- {model}: {case.rows:,}-row batches: **{rows:,.0f} rows/s** (target >= "
                f"{BATCH_ROWS_TARGET:,}: {'met' if rows >= BATCH_ROWS_TARGET else 'NOT met'})"
            )
    lines += [
        f"- {rounds} interleaved rounds; vs bare = median of per-round ratios of req/s; worker "
        "CPU us/req = CPU time of all workers per request (less sensitive to other load than "
        "req/s); worker balance = CPU time of the least busy worker / the busiest, median and "
        "worst round",
        "",
    ]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=3, help="seconds per wrk run (default 3)")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    ap.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1],
        help="threads per worker; 1 = sync, >1 = gthread; several values are compared "
        "side by side (default 1)",
    )
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    ap.add_argument("--batch", type=int, default=1000, help="rows per batch request")
    ap.add_argument(
        "--warmup", type=int, default=1, help="seconds of unrecorded load per case (0: none)"
    )
    ap.add_argument("--v2", choices=["auto", "off"], default="auto", help="V2 infer rows")
    ap.add_argument(
        "--skip-batch", action="store_true", help="leave out the batch row (quick ratio checks)"
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")

    rng = np.random.default_rng(0)
    servers: list[Gunicorn] = []
    with tempfile.TemporaryDirectory(prefix="nns-bench-") as tmp:
        data = Path(tmp)
        for model, flags in MODELS.items():
            train_cli(data / "models", "--model", model, *flags)
        cases = predict_cases(args.batch, rng)
        if args.skip_batch:
            cases = [c for c in cases if not c.key.endswith("batch")]
        try:
            configs = []
            for threads in args.threads:
                kind = f"gthread, {args.workers} workers x {threads} threads"
                title = kind if threads > 1 else f"sync, {args.workers} workers"
                pair = {}
                for name, app in (("app", None), ("bare", "bare_app:app")):
                    pair[name] = Gunicorn(
                        data,
                        data / f"{name}-t{threads}.log",
                        args.workers,
                        app=app,
                        args=("--pythonpath", str(HERE)) if app else (),
                        NNS_THREADS=str(threads),
                        NNS_LOG_LEVEL="INFO",  # access logs on, as in production
                        PROMETHEUS_MULTIPROC_DIR=str(data / f"metrics-{name}-t{threads}"),
                    )
                    servers.append(pair[name])
                configs.append((title, pair))
            for _, pair in configs:
                wait_answering(pair["bare"], cases[0])
                wait_answering(pair["app"], cases[1])
            app = configs[0][1]["app"]
            if args.v2 == "auto" and http("GET", app.url + "/v2")[0] == 200:
                cases += v2_cases("diabetes", args.batch, rng)
            refuse_wrong_answers(cases)
            for _, pair in configs:
                for case in cases:
                    wait_answering(pair[case.server], case)
                    if args.warmup:
                        wrk(pair[case.server], case, args.warmup, args.connections, data)

            results = {title: {c.key: Result() for c in cases} for title, _ in configs}
            for k in range(args.repeat):
                for title, pair in configs:
                    for case in cases[k % len(cases) :] + cases[: k % len(cases)]:
                        s = wrk(pair[case.server], case, args.duration, args.connections, data)
                        r = results[title][case.key]
                        r.rps.append(s["requests"] / (s["duration_us"] / 1e6))
                        r.p50_ms.append(s["p50_us"] / 1000)
                        r.p99_ms.append(s["p99_us"] / 1000)
                        r.balance.append(s["balance"])
                        r.cpu_us.append(s["cpu_us"])
                print(f"round {k + 1}/{args.repeat} done", file=sys.stderr, flush=True)
        finally:
            for server in servers:
                server.stop()
        log_lines = sum(len(s.log_path.read_bytes().splitlines()) for s in servers)

    print(
        f"### Serving benchmark: wrk -t1 -c{args.connections} -d{args.duration}s, "
        f"{args.repeat} rounds, {os.cpu_count()} cores shared by wrk and the workers\n"
    )
    for title, _ in configs:
        print("\n".join(report(title, cases, results[title], args.repeat)))
    print(f"Metrics and logging on: the servers wrote {log_lines:,} log lines (to a file).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
