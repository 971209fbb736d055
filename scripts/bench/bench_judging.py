#!/usr/bin/env python
"""What judging by cross-validation costs: nns-train's wall time, this checkout beside another.

Since 68d266e a version is judged by 5-fold cross-validation up to MAX_CV_ROWS (5,000) training
rows, on a 20% holdout above them (service/training/validation.py): five more models are
trained before the published one. This times `nns-train --data train.csv --target T` (the
public datasets' fixed training splits, IDs excluded, as scripts/bench/real_data.py runs it)
with this checkout's code and with another's (--code DIR, e.g. a worktree of 1b4cac3, the last
commit that judged on a single validation split), interleaved, and prints the medians.

    git worktree add /tmp/old 1b4cac3
    python scripts/bench/bench_judging.py --code /tmp/old --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support import public_data  # noqa: E402

DEFAULT = ["penguins", "titanic", "weather", "default", "housing", "carseats", "hitters"]


def wall(code: Path, prepared: public_data.Prepared, store: Path) -> float:
    """Run nns-train from checkout `code` once; return its wall time in seconds."""
    argv = [sys.executable, "-m", "service.training.cli", "--store", str(store)]
    argv += ["--data", str(prepared.train), "--target", prepared.target, "--model", "m"]
    if prepared.exclude:
        header, _ = public_data.read_table(Path(prepared.train))
        named = [c.strip() or f"column_{header.index(c) + 1}" for c in prepared.exclude]
        argv += ["--exclude", ",".join(named)]
    env = {**os.environ, "PYTHONPATH": str(code), "OPENBLAS_NUM_THREADS": "1"}
    started = time.perf_counter()
    subprocess.run(argv, cwd=code, env=env, check=True, capture_output=True, timeout=900)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("names", nargs="*", default=DEFAULT)
    p.add_argument("--code", type=Path, required=True, help="the other checkout")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "nns-judging")
    args = p.parse_args(argv)
    codes = {"other": args.code.resolve(), "this": ROOT}
    print(f"other: {codes['other']}; this: {ROOT}")
    print("| dataset | training rows | other s | this s | this / other |\n|---|--:|--:|--:|--:|")
    for name in args.names:
        prepared = public_data.prepare(name, args.data / name)
        times: dict[str, list[float]] = {label: [] for label in codes}
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.repeats):
                for label, code in codes.items():
                    times[label].append(wall(code, prepared, Path(tmp) / f"{label}{i}"))
        other, this = (statistics.median(times[label]) for label in ("other", "this"))
        rows = f"{prepared.train_rows:,}"
        print(f"| {name} | {rows} | {other:.2f} | {this:.2f} | {this / other:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
