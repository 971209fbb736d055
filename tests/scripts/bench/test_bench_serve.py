"""scripts/bench/bench_serve.py: a tiny run answers every case, checked, and prints the table.

The script itself sends each case once and checks the answer before loading it (the bare
app's constant object included), and refuses a case whose check would accept a wrong answer;
any of those makes it exit non-zero.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.harness import ROOT

SCRIPT = ROOT / "scripts" / "bench" / "bench_serve.py"


@pytest.mark.process
def test_a_tiny_run_answers_every_case_and_prints_the_table():
    argv = [sys.executable, str(SCRIPT), "--duration", "1", "--repeat", "1", "--warmup", "0"]
    argv += ["--batch", "100", "--connections", "2"]  # a connection per worker: light on the CPU
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    table = out.stdout
    assert "| bare POST / (constant JSON) |" in table
    assert "| POST /predict, diabetes, 1 row |" in table
    assert "| POST /predict, diabetes, 100 rows |" in table
    assert "| POST /models/moons/predict, 1 row |" in table
    assert "| POST /models/moons/predict, 100 rows |" in table
    for rows in ("1 row", "100 rows"):
        for kind in ("JSON", "binary"):
            assert f"| V2 infer, {rows}, {kind} |" in table
    for model in ("diabetes", "moons"):
        assert f"- {model}: single-row /predict vs bare:" in table
        assert f"- {model}: 100-row batches:" in table
    assert "Metrics and logging on" in table
