"""scripts/bench/bench_store_watch.py: a tiny run serves both stores and prints the table."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.harness import ROOT

SCRIPT = ROOT / "scripts" / "bench" / "bench_store_watch.py"


@pytest.mark.process
def test_a_tiny_run_prints_both_stores_and_one_request_per_look_on_s3(tmp_path):
    argv = [sys.executable, str(SCRIPT), "--models", "3", "--duration", "2", "--rounds", "1"]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = {}
    for line in out.stdout.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "this":
            rows[cells[1]] = dict(zip(HEADER, cells, strict=True))
    assert set(rows) == {"filesystem", "S3 (moto)"}
    fs, s3 = rows["filesystem"], rows["S3 (moto)"]
    assert fs["models"] == s3["models"] == "3"
    assert float(fs["p99 ms"]) > 0 and float(s3["p99 ms"]) > 0
    assert fs["req/look"] == "-" and s3["req/look"] == "1.0"  # one LIST, whatever the models
    assert 0 < float(s3["store req/s"]) < 10  # 2 workers, a look a second each
    assert "this, 3 models: p99 S3 / filesystem" in out.stdout


HEADER = [
    "code", "store", "models", "p50 ms", "p99 ms", "req/s", "store req/s", "req/look",
    "boot s", "timeouts", "unsettled",
]  # fmt: skip
