"""The offline training command, run as a real process like operators and scripts run it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from model_store import ModelStore
from tests.support.harness import ROOT

TRAIN = [sys.executable, str(ROOT / "scripts" / "train.py")]


def run(*args: str, cmd=TRAIN) -> subprocess.CompletedProcess:
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_json_last_line_and_store(tmp_path):
    out = run("--store", str(tmp_path), "--epochs", "300", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["model"] == "diabetes" and result["version"] == 1
    assert result["store"] == str(tmp_path) and result["metrics"]["accuracy"] == 1.0
    assert ModelStore(tmp_path).current_version("diabetes") == 1


def test_progress_bar_and_summary_without_json(tmp_path):
    out = run("--store", str(tmp_path), "--dataset", "xor", "--epochs", "200", "--hidden", "4")
    assert out.returncode == 0, out.stderr
    assert "200/200 loss" in out.stderr and "[####" in out.stderr
    assert "model xor version 1 (current)" in out.stdout and "accuracy" in out.stdout


def test_moons_csv_perceptron_and_no_promote(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n" + "".join(f"{i / 2},{i % 3},{i + i % 3}\n" for i in range(30)))
    out = run(
        "--store",
        str(tmp_path / "s"),
        "--data",
        str(csv),
        "--target",
        "y",
        "--model",
        "reg",
        "--loss",
        "mse",
        "--hidden",
        "none",
        "--activation",
        "identity",
        "--lr",
        "0.05",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert "rmse" in result["metrics"]
    store = ModelStore(tmp_path / "s")
    assert store.load("reg").meta["architecture"]["hidden"] == []
    out = run(
        "--store",
        str(tmp_path / "s"),
        "--dataset",
        "moons",
        "--samples",
        "200",
        "--noise",
        "0.1",
        "--hidden",
        "8,8",
        "--epochs",
        "50",
        "--validation-split",
        "0.25",
        "--no-promote",
        "--json",
        "--model",
        "reg2",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["metrics"]["rows"] == 200  # out of fold


@pytest.mark.parametrize(
    "args,message",
    [
        (["--bogus"], "unrecognized arguments"),
        (["--epochs", "0"], "--epochs"),
        (["--lr", "-1"], "--lr"),
        (["--hidden", "4,x"], "invalid --hidden"),
        (["--activation", "gelu"], "invalid choice"),
        (["--data", "/nonexistent.csv", "--target", "y", "--model", "m"], "cannot read"),
        (["--data", "x.csv"], "--data needs --target"),
        (["--model", "Bad/Name"], "invalid model name"),
        (["--dataset", "moons", "--noise", "nan"], "noise"),
        (["--validation-split", "1.5"], "--validation-split"),
    ],
)
def test_bad_flags_exit_nonzero_with_one_line_and_write_nothing(tmp_path, args, message):
    out = run("--store", str(tmp_path / "s"), *args)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("nns-train: error:")
    assert not (tmp_path / "s").exists() or ModelStore(tmp_path / "s").list_models() == []


def test_bad_csv_names_the_line(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("a,y\n" + "1,0\n" * 20 + "zz,1\n")
    out = run("--store", str(tmp_path / "s"), "--data", str(csv), "--target", "y", "--model", "m")
    assert out.returncode == 1 and "line 22, column 'a': not a number" in out.stderr


def test_console_command_is_installed(tmp_path):
    beside = Path(sys.executable).parent / "nns-train"  # the venv's bin, even if not on PATH
    exe = str(beside) if beside.exists() else shutil.which("nns-train")
    assert exe, "nns-train is not on PATH: install the package (make test does)"
    out = run("--store", str(tmp_path), "--epochs", "10", "--json", cmd=[exe])
    assert out.returncode == 0 and json.loads(out.stdout.splitlines()[-1])["version"] == 1
