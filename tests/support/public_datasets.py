"""The public datasets of scripts/bench/tabular_data.py, prepared by running it as a user does
(`--json`): each one's train and test CSV, target, task and ID-like columns."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.harness import ROOT

BENCH = ROOT / "scripts" / "bench"


@dataclass(frozen=True)
class Split:
    """A dataset written by tabular_data.py: the fixed split of its rows into two CSVs."""

    name: str
    train: Path
    test: Path
    target: str
    task: str  # "binary", "multiclass" or "regression"
    exclude: tuple[str, ...]  # ID-like columns, left in the files


def run_bench(script: str, *args: str, timeout: float = 600) -> str:
    """Run scripts/bench/<script> with this Python; return its output, failing on an error."""
    argv = [sys.executable, str(BENCH / script), *args]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def prepare(out: Path, *names: str) -> dict[str, Split]:
    """Write each dataset (all of them if none is named) under `out`; return them by name."""
    found = {}
    for line in run_bench("tabular_data.py", "--json", "--out", str(out), *names).splitlines():
        doc = json.loads(line)
        found[doc["name"]] = Split(
            doc["name"],
            Path(doc["train"]),
            Path(doc["test"]),
            doc["target"],
            doc["task"],
            tuple(doc["exclude"]),
        )
    return found
