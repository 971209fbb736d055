#!/usr/bin/env python
"""The promotion gate on data nobody tuned for: what the gate saw against untouched test rows.

For each dataset and seed: the rows are split 80/20 (tests/support/public_data.py, stratified,
seeded): the ten datasets the defaults were tuned on and ten others of different shapes (under
100 rows, many classes, count targets, a European Excel file, a date column, R's row names);
`nns-train --data train.csv --target T [--exclude ...] --seed S --json` trains into an empty store
with the default policy (auto), as a new user would; then the published version scores the
test rows it never saw (in process, with the product's reader and feature rule). Printed per
run: the primary metric the gate saw and its baseline's, the same two on the test rows, and
whether it was promoted. A promoted model is *worse than the baseline beyond noise* when its
mean per-row loss on the test rows (log loss, or squared error) exceeds the baseline's by more
than two standard errors of the paired per-row difference.

    python scripts/bench/bench_gate.py                    # every dataset, seeds 0 1 2
    python scripts/bench/bench_gate.py cars93 painters --seeds 0
    python scripts/bench/bench_gate.py --code old=/path/to/other/checkout   # its nns-train
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model_store import ModelStore  # noqa: E402
from service.data.csvfile import read_csv_file  # noqa: E402
from service.serving.predictor import Predictor  # noqa: E402
from service.training import evaluation  # noqa: E402
from service.training.evaluation import EPS  # noqa: E402
from tests.support import public_data  # noqa: E402
from tests.support.scoring import served_outputs  # noqa: E402

PINNED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class Refused(Exception):
    """nns-train refused the data (its message says why)."""


@dataclass
class Run:
    name: str
    seed: int
    task: str
    evaluated_on: str
    gate: float  # the primary metric the gate saw
    gate_base: float
    test: float  # the same metric on the test rows
    test_base: float
    promoted: bool
    worse: bool  # worse than the baseline on the test rows beyond noise
    scored: int
    unknown: int  # test rows holding a category training never saw (scored as unknown)


def train(code: Path, prepared, store: Path, seed: int) -> dict:
    argv = [sys.executable, str(code / "scripts" / "train.py"), "--store", str(store)]
    argv += ["--data", str(prepared.train), "--target", prepared.target, "--model", "m"]
    argv += ["--seed", str(seed), "--json"]
    if prepared.exclude:
        spec = public_data.ALL[prepared.name]
        with open(prepared.train, encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f, delimiter=";" if spec.european else ","))
        # nns-train names a column with an empty header by its position (column_N)
        named = [c or f"column_{header.index(c) + 1}" for c in prepared.exclude]
        argv += ["--exclude", ",".join(named)]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(code), **PINNED}
    out = subprocess.run(argv, capture_output=True, text=True, timeout=1800, env=env)
    if out.returncode != 0:
        raise Refused(out.stderr.strip().splitlines()[-1][:160])
    return json.loads(out.stdout.splitlines()[-1])


def losses(model: Predictor, prepared) -> tuple[np.ndarray, np.ndarray, int]:
    """Return per-row losses of the model and of the baseline on every test row (a category
    training never saw is scored as unknown, as the service scores it), and how many rows
    held one."""
    train = read_csv_file(prepared.train, prepared.target)
    test = read_csv_file(prepared.test, prepared.target)
    # A row the service refuses (a value missing where training had none) is left out of both
    # the model's and the baseline's losses.
    kept, out, unknowns = served_outputs(model, test)
    unknown = len({row for u in unknowns for row in u.rows})
    y_test, y_train = test.y[kept], train.y
    if model.task == "regression":
        y_test = np.asarray(y_test, dtype=np.float64)
        base = float(np.mean(np.asarray(y_train, dtype=np.float64)))
        return (out[:, 0] - y_test) ** 2, (base - y_test) ** 2, unknown
    classes = list(model.classes)
    index = np.array([classes.index(_label(v)) for v in y_test.tolist()])
    probs = np.column_stack([1 - out[:, 0], out[:, 0]]) if out.shape[1] == 1 else out
    chosen = np.clip(probs[np.arange(len(index)), index], EPS, 1 - EPS)
    train_index = np.array([classes.index(_label(v)) for v in y_train.tolist()])
    trivial = evaluation.baseline(model.task, train_index, len(index), len(classes))  # the gate's
    base = np.clip(trivial.probs[np.arange(len(index)), index], EPS, 1 - EPS)
    return -np.log(chosen), -np.log(base), unknown


def _label(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def one(code: Path, name: str, seed: int, work: Path) -> Run:
    prepared = public_data.prepare(name, work / f"s{seed}", seed=seed)
    store = work / f"store-{name}-{seed}"
    out = train(code, prepared, store, seed)
    model = Predictor(ModelStore(store).load("m", out["version"]), max_batch=10**9)
    key = "rmse" if model.task == "regression" else "log_loss"
    mine, base, unknown = losses(model, prepared)
    diff = mine - base
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    reduce = np.sqrt if key == "rmse" else (lambda v: v)
    return Run(
        name, seed, model.task, out["metrics"].get("evaluated_on", "?"),
        out["metrics"][key], out["baseline"][key],
        float(reduce(mine.mean())), float(reduce(base.mean())),
        out["promoted"], bool(diff.mean() > 2 * se), len(mine), unknown,
    )  # fmt: skip


def fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="*", help="default: every dataset, tuned and not")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--code", default=str(ROOT), help="the checkout whose nns-train runs")
    args = parser.parse_args(argv)
    names = args.datasets or list(public_data.ALL)
    print(
        "| dataset | tuned | seed | judged on | gate: model | gate: baseline | test: model "
        "| test: baseline | promoted | worse than baseline on test |"
    )
    print("|---|:-:|--:|---|--:|--:|--:|--:|:-:|:-:|")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            for seed in args.seeds:
                try:
                    r = one(Path(args.code), name, seed, Path(tmp))
                except Refused as exc:
                    print(f"| {name} | | {seed} | refused: {exc} | | | | | | |", flush=True)
                    continue
                runs.append(r)
                tuned = "yes" if name in public_data.DATASETS else "no"
                print(
                    f"| {name} | {tuned} | {seed} | {r.evaluated_on} | {fmt(r.gate)} "
                    f"| {fmt(r.gate_base)} | {fmt(r.test)} | {fmt(r.test_base)} "
                    f"| {'yes' if r.promoted else 'no'} | {'**yes**' if r.worse else 'no'} |",
                    flush=True,
                )
    bad = [r for r in runs if r.promoted and r.worse]
    print(
        f"\n{sum(r.promoted for r in runs)} of {len(runs)} runs promoted; "
        f"{len(bad)} promoted and worse than the baseline on the test rows beyond noise"
        + (": " + ", ".join(f"{r.name}/{r.seed}" for r in bad) if bad else "")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
