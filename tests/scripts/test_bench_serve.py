"""scripts/bench_serve.py: its requests are answered by the app, and a tiny run prints the table."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from scripts.harness import ROOT

SCRIPT = ROOT / "scripts" / "bench_serve.py"


@pytest.fixture
def bench(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_serve", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_serve", module)  # dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def test_every_bench_request_is_answered_and_checked(client, bench):
    rng = np.random.default_rng(0)
    cases = bench.predict_cases(50, rng) + bench.v2_cases("diabetes", 50, rng)
    assert [c.key for c in cases] == [
        "bare", "single", "batch", "moons_single", "moons_batch",
        "v2json1", "v2bin1", "v2json50", "v2bin50",
    ]  # fmt: skip
    for case in cases[1:]:  # the bare case goes to scripts/bare_app.py
        headers = dict(h.split(": ", 1) for h in case.headers)
        headers["Content-Type"] = case.content_type
        resp = client.post(case.path, data=case.body, headers=headers)
        assert resp.status_code == 200, (case.label, resp.get_data()[:200])
        assert case.check(resp.get_data()), case.label
    assert not cases[2].check(b'{"predictions": []}')  # checks that can fail
    assert not cases[4].check(client.post("/predict", data=cases[4].body).get_data())


def test_bare_app_answers_a_constant_object():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from bare_app import ANSWER, app
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    resp = app.test_client().post("/", json={"smoking": 0})
    assert resp.status_code == 200 and resp.get_json() == ANSWER


@pytest.mark.process
def test_a_tiny_run_prints_the_table():
    argv = [sys.executable, str(SCRIPT), "--duration", "1", "--repeat", "1", "--warmup", "1"]
    out = subprocess.run(
        [*argv, "--batch", "100", "--v2", "off"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    table = out.stdout
    assert "| bare POST / (constant JSON) |" in table
    assert "| POST /predict, diabetes, 1 row |" in table
    assert "| POST /predict, diabetes, 100 rows |" in table
    assert "| POST /models/moons/predict, 1 row |" in table
    assert "| POST /models/moons/predict, 100 rows |" in table
    for model in ("diabetes", "moons"):
        assert f"- {model}: single-row /predict vs bare:" in table
        assert f"- {model}: 100-row batches:" in table
    assert "Metrics and logging on" in table
