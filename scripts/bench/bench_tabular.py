"""scikit-learn's standard pipeline and service.nn on the same held-out rows of real CSVs.

For every dataset of scripts/bench/tabular_data.py (fixed 80/20 split, seed 0) this trains:

* the reference, exactly as the issue states it: a ColumnTransformer with numeric columns ->
  SimpleImputer(median) + StandardScaler and text columns -> SimpleImputer(most_frequent) +
  OneHotEncoder(handle_unknown="ignore"), then MLPClassifier() / MLPRegressor() with their
  defaults and random_state=seed; for regression also the mean predictor (the training mean)
  and, for information only, MLPRegressor on a standardised target ("sk-std-y");
* the product through its own stages, never a copy: the training rows are read by
  service.data.csvfile and trained by service.training.pipeline.train_model with a
  Hyperparameters spec (the defaults, or a --config's changes), which types the columns,
  applies the feature rule, judges the version (cross-validation or a holdout) and fits the
  published model; the test rows are scored by the Predictor serving would load (a category
  never seen is scored as unknown, as it serves it; a row the feature rule refuses counts as
  wrong). scripts/bench/real_data.py runs the same product over nns-train, gunicorn and HTTP.

Scores are on the held-out test.csv rows: accuracy, or RMSE in the target's units. The bar
(from the issue): accuracy >= reference - 0.03; RMSE <= 1.10 x min(reference, mean predictor),
each on the median over seeds. Times are train_model wall-clock seconds (its cross-validation
included), BLAS pinned to one thread. With no --config the spec's defaults are measured
(service/training/spec.py: tanh [64], Adam 3e-3, batch 128, at most 500 epochs with patience
50 on 20% of a model's training rows from 200 rows up; below that 100 epochs).

    python scripts/bench/bench_tabular.py --seeds 0 1 2 3 4 5 6 7 8 9      # reference + DEFAULT
    python scripts/bench/bench_tabular.py --seeds 0 1 2 3 4 --datasets penguins housing
    python scripts/bench/bench_tabular.py --config "hidden=64,32 bs=64" --config "act=relu lr=0.001"
    python scripts/bench/bench_tabular.py --sweep lr --seeds 0 1 2       # one named sweep (SWEEPS)
    python scripts/bench/bench_tabular.py --split-seed 1 --results r.jsonl ...  # another split
    python scripts/bench/bench_tabular.py --subsample 100 ...            # only 100 training rows
    python scripts/bench/bench_tabular.py --summarise r.jsonl            # pass rates over all runs
    python scripts/bench/bench_tabular.py --builtin                      # DEFAULT on moons/xor/...

A --config string changes hyperparameters by nns-train's names or the short ones (hidden act
lr bs ep pat wd val opt); "bs=full" trains full-batch, "hidden=none" is a perceptron, "val=0"
trains without early stopping. Results are also appended as JSON lines to --results
(default /tmp/bench_tabular.jsonl); --summarise counts, per config and dataset, the (split,
seed) runs that meet the bar against that split's reference.
Needs: pip install scikit-learn (and the datasets' downloads, see scripts/bench/tabular_data.py).
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repo root
from model_store import ModelStore  # noqa: E402
from service.data.csvfile import read_csv_text  # noqa: E402
from service.serving.predictor import Predictor  # noqa: E402
from service.training.pipeline import train_model  # noqa: E402
from service.training.request import hidden_widths  # noqa: E402
from service.training.spec import Hyperparameters, TrainSpec  # noqa: E402
from tests.support import public_data as tabular_data  # noqa: E402
from tests.support.scoring import served_outputs  # noqa: E402

ACC_MARGIN = 0.03  # accuracy may be this much below the reference
RMSE_FACTOR = 1.10  # RMSE may be this many times the better of the reference and the mean


# ---------------------------------------------------------------------------------------------
# Tables


@dataclass
class Table:
    """A CSV split: feature columns typed on the training rows, target as text."""

    name: str
    task: str
    features: list[str]
    numeric: list[bool]  # per feature: every non-missing TRAINING cell parses as a number
    train: list[list[str]]  # feature cells, per row
    test: list[list[str]]
    y_train: list[str]
    y_test: list[str]


def _number(cell: str) -> float:
    if tabular_data.is_missing(cell):
        return np.nan
    try:
        return float(cell)
    except ValueError:
        return np.nan  # a text cell in a numeric column (only possible in test rows)


def load(prepared: tabular_data.Prepared) -> Table:
    """Read train.csv/test.csv of a prepared dataset into a Table."""
    header, train = tabular_data.read_table(prepared.train)
    header_test, test = tabular_data.read_table(prepared.test)
    assert header == header_test
    t = header.index(prepared.target)
    keep = [j for j, h in enumerate(header) if j != t and h not in prepared.exclude]
    numeric = []
    for j in keep:
        cells = [r[j] for r in train if not tabular_data.is_missing(r[j])]
        numeric.append(all(not np.isnan(_number(c)) for c in cells))
    return Table(
        prepared.name,
        prepared.task,
        [header[j] for j in keep],
        numeric,
        [[r[j] for j in keep] for r in train],
        [[r[j] for j in keep] for r in test],
        [r[t].strip() for r in train],
        [r[t].strip() for r in test],
    )


def subsample(table: Table, n: int) -> Table:
    """Keep n training rows (a fixed random choice); test rows unchanged."""
    keep = np.sort(np.random.default_rng(12345).permutation(len(table.train))[:n])
    return replace(
        table,
        train=[table.train[i] for i in keep],
        y_train=[table.y_train[i] for i in keep],
    )


# ---------------------------------------------------------------------------------------------
# The reference: scikit-learn's standard pipeline


def _sk_frame(table: Table, rows: list[list[str]]) -> np.ndarray:
    """Object array: floats (nan = missing) in numeric columns, str or nan in text ones."""
    out = np.empty((len(rows), len(table.features)), dtype=object)
    for j, numeric in enumerate(table.numeric):
        for i, row in enumerate(rows):
            cell = row[j]
            if numeric:
                out[i, j] = _number(cell)
            else:
                out[i, j] = np.nan if tabular_data.is_missing(cell) else cell.strip()
    return out


def sklearn_pipeline(table: Table, seed: int, *, standardise_target: bool = False):
    """Return the unfitted reference pipeline for the table's task."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = [j for j, n in enumerate(table.numeric) if n]
    txt = [j for j, n in enumerate(table.numeric) if not n]
    transformers = []
    if num:
        numeric = Pipeline(
            [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        )
        transformers.append(("num", numeric, num))
    if txt:
        text = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("onehot", OneHotEncoder(handle_unknown="ignore")),
            ]
        )
        transformers.append(("txt", text, txt))
    pre = ColumnTransformer(transformers)
    if table.task != "regression":
        return Pipeline([("pre", pre), ("mlp", MLPClassifier(random_state=seed))])
    model = Pipeline([("pre", pre), ("mlp", MLPRegressor(random_state=seed))])
    if standardise_target:
        return TransformedTargetRegressor(regressor=model, transformer=StandardScaler())
    return model


def run_sklearn(table: Table, seed: int, *, standardise_target: bool = False) -> dict:
    """Fit the reference on train rows; return {"score", "seconds"} on the test rows."""
    from sklearn.exceptions import ConvergenceWarning

    X, X_test = _sk_frame(table, table.train), _sk_frame(table, table.test)
    y = table.y_train if table.task != "regression" else np.array(table.y_train, dtype=float)
    model = sklearn_pipeline(table, seed, standardise_target=standardise_target)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    seconds = time.perf_counter() - start
    pred = model.predict(X_test)
    return {"score": _score(table, pred), "seconds": seconds}


def run_mean(table: Table) -> dict:
    """The mean predictor's RMSE (regression) or the majority class's accuracy."""
    if table.task == "regression":
        pred = np.full(len(table.y_test), np.mean(np.array(table.y_train, dtype=float)))
    else:
        values, counts = np.unique(table.y_train, return_counts=True)
        pred = np.full(len(table.y_test), values[counts.argmax()], dtype=object)
    return {"score": _score(table, pred), "seconds": 0.0}


def _score(table: Table, pred: np.ndarray) -> float:
    if table.task == "regression":
        y = np.array(table.y_test, dtype=float)
        return float(np.sqrt(np.mean((np.asarray(pred, dtype=float) - y) ** 2)))
    return float(np.mean(np.asarray(pred).astype(str) == np.array(table.y_test)))


# ---------------------------------------------------------------------------------------------
# The product, through its own stages: the training spec, train_model (column typing, the
# feature rule, cross-validation or a holdout, the published model) and the served predictor


TARGET = "__target__"
SHORT = {
    "act": "activation",
    "lr": "learning_rate",
    "bs": "batch_size",
    "ep": "epochs",
    "pat": "patience",
    "wd": "weight_decay",
    "val": "validation_split",
    "opt": "optimizer",
}


def parse_config(text: str) -> dict:
    """Return the hyperparameters "key=value ..." changes (nns-train's names or SHORT's);
    "bs=full", "val=none" and the like leave a field to its automatic value."""
    changes: dict = {}
    for part in text.split():
        key, _, value = part.partition("=")
        key = SHORT.get(key, key)
        if key not in Hyperparameters.model_fields:
            raise SystemExit(f"unknown config key {key!r}; use {sorted(SHORT)} or a flag's name")
        if key == "hidden":
            changes[key] = hidden_widths(value)
        else:
            changes[key] = None if value.lower() in ("full", "none") else value
    Hyperparameters.model_validate(changes)  # a bad value stops here, with pydantic's words
    return changes


def label(changes: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in changes.items()) or "the defaults"


def _dataset(rows: list[list[str]], y: list[str], names: list[str]):
    """Read cells as nns-train reads a CSV (service.data.csvfile)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*names, TARGET])
    writer.writerows([*r, t] for r, t in zip(rows, y, strict=True))
    return read_csv_text(out.getvalue(), TARGET)


def run_engine(table: Table, changes: dict, seed: int) -> dict:
    """Train with the product's train_model on the table's train rows; score the test rows with
    the predictor serving would load (a value never seen is scored as unknown, as it serves it;
    a row the feature rule refuses counts as wrong)."""
    data = _dataset(table.train, table.y_train, table.features)
    params = Hyperparameters.model_validate({**changes, "seed": seed})
    spec = TrainSpec(model="bench", hyperparameters=params, promote="always")
    with tempfile.TemporaryDirectory() as tmp:
        store = ModelStore(Path(tmp))
        start = time.perf_counter()
        result = train_model(spec, data, store)
        seconds = time.perf_counter() - start
        model = Predictor(store.load("bench", result.version), max_batch=10**9)
    test = _dataset(table.test, table.y_test, table.features)
    accepted, out, _ = served_outputs(model, test)
    regression = table.task == "regression"
    mean = np.mean(np.array(table.y_train, dtype=float)) if regression else None
    pred = np.full(len(table.y_test), mean, dtype=object)
    pred[accepted] = out[:, 0] if regression else np.array(model.labels(out)[1], dtype=object)
    score = _score(table, pred) if np.isfinite(out).all() else float("nan")
    return {
        "score": score,
        "seconds": seconds,
        "epochs_run": result.epochs_run,
        "evaluated_on": result.metrics.evaluated_on,
        "inputs": model.feature_set.width,
    }


# ---------------------------------------------------------------------------------------------
# Sweeps: one factor at a time around DEFAULT, plus the pairs that interact


SWEEPS: dict[str, list[str]] = {
    "hidden": [
        "hidden=16",
        "hidden=32",
        "hidden=64",
        "hidden=128",
        "hidden=64,32",
        "hidden=128,64",
        "hidden=64,64",
    ],
    "act": ["act=relu", "act=tanh", "act=sigmoid"],
    "lr": ["lr=0.0003", "lr=0.001", "lr=0.003", "lr=0.01", "lr=0.03"],
    "bs": ["bs=16", "bs=32", "bs=64", "bs=128", "bs=full lr=0.01", "bs=full lr=0.03"],
    "stop": [
        "ep=200 pat=10",
        "ep=500 pat=20",
        "ep=500 pat=30",
        "ep=1000 pat=50",
        "ep=2000 pat=100",
    ],
    "wd": ["wd=0", "wd=0.0001", "wd=0.001", "wd=0.01"],
    "val": ["val=0.1", "val=0.15", "val=0.2", "val=0.25", "val=0.3"],
}


# ---------------------------------------------------------------------------------------------
# Reporting


def passes(task: str, score: float, ref: float, mean: float) -> tuple[bool, float]:
    """(meets the bar, margin): margin > 0 is room to spare (accuracy points / RMSE ratio)."""
    if task == "regression":
        bound = RMSE_FACTOR * min(ref, mean)
        return score <= bound, bound / score - 1.0 if score > 0 else float("inf")
    return score >= ref - ACC_MARGIN, score - (ref - ACC_MARGIN)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench(args: argparse.Namespace) -> int:
    configs = [{}] if not (args.config or args.sweep) else []
    configs += [parse_config(c) for c in args.config or []]
    for name in args.sweep or []:
        configs += [parse_config(c) for c in SWEEPS[name]]
    out = Path(args.out or tempfile.mkdtemp(prefix="tabular-"))
    results = open(args.results, "a", encoding="utf-8")  # noqa: SIM115
    tables = [
        load(tabular_data.prepare(n, out, cache=args.cache, seed=args.split_seed))
        for n in args.datasets
    ]
    if args.subsample:
        tables = [subsample(t, args.subsample) for t in tables]

    ref: dict[str, dict] = {}
    print(f"{'dataset':9} {'task':10} {'rows':>9}  reference (median of seeds)")
    for table in tables:
        sk = [run_sklearn(table, s) for s in args.seeds]
        mean = run_mean(table)
        entry = {
            "sk": _median([r["score"] for r in sk]),
            "sk_min": min(r["score"] for r in sk),
            "sk_max": max(r["score"] for r in sk),
            "sk_s": _median([r["seconds"] for r in sk]),
            "mean": mean["score"],
        }
        if table.task == "regression":
            sky = [run_sklearn(table, s, standardise_target=True) for s in args.seeds]
            entry["sk_std_y"] = _median([r["score"] for r in sky])
        ref[table.name] = entry
        tag = {"split_seed": args.split_seed, "subsample": args.subsample}
        results.write(json.dumps({"dataset": table.name, "reference": entry, **tag}) + "\n")
        rows = f"{len(table.y_train)}/{len(table.y_test)}"
        if table.task == "regression":
            bound = RMSE_FACTOR * min(entry["sk"], entry["mean"])
            what = (
                f"RMSE sklearn {entry['sk']:.4g} [{entry['sk_min']:.4g}-{entry['sk_max']:.4g}]"
                f" mean {entry['mean']:.4g} (sk-std-y {entry['sk_std_y']:.4g}) -> bar <= "
                f"{bound:.4g}"
            )
        else:
            what = (
                f"acc sklearn {entry['sk']:.4f} [{entry['sk_min']:.4f}-{entry['sk_max']:.4f}]"
                f" majority {entry['mean']:.4f} -> bar >= {entry['sk'] - ACC_MARGIN:.4f}"
            )
        print(
            f"{table.name:9} {table.task:10} {rows:>9}  {what}  ({entry['sk_s']:.2f} s)", flush=True
        )

    for cfg in configs:
        print(f"\n{label(cfg)}")
        print(
            f"  {'dataset':9} {'score':>9} {'min':>9} {'max':>9} {'ref':>9} {'pass':>5} "
            f"{'margin':>7} {'fails':>5} {'train s':>7} {'epochs':>7}"
        )
        all_pass, worst, total_s = True, float("inf"), 0.0
        for table in tables:
            runs = [run_engine(table, cfg, s) for s in args.seeds]
            scores = [r["score"] for r in runs]
            med = _median(scores)
            r = ref[table.name]
            ok, margin = passes(table.task, med, r["sk"], r["mean"])
            fails = sum(not passes(table.task, s, r["sk"], r["mean"])[0] for s in scores)
            secs = _median([x["seconds"] for x in runs])
            total_s += secs
            epochs = int(_median([x["epochs_run"] for x in runs]))
            all_pass &= ok
            worst = min(worst, margin)
            results.write(
                json.dumps(
                    {
                        "dataset": table.name,
                        "config": cfg,
                        "runs": runs,
                        "seeds": args.seeds,
                        "split_seed": args.split_seed,
                        "subsample": args.subsample,
                    }
                )
                + "\n"
            )
            print(
                f"  {table.name:9} {med:9.4g} {min(scores):9.4g} {max(scores):9.4g} "
                f"{r['sk']:9.4g} {'yes' if ok else 'NO':>5} {margin:+7.3f} {fails:>5} "
                f"{secs:6.2f} {epochs:>7}",
                flush=True,
            )
        print(
            f"  => {'ALL PASS' if all_pass else 'FAILS'}; worst margin {worst:+.3f}; "
            f"train_model seconds summed over datasets {total_s:.1f}"
        )
    results.close()
    return 0


def summarise(path: str) -> int:
    """Per config, over every (split, seed) run in a --results file: how often the bar holds."""
    refs: dict[tuple, dict] = {}
    runs: dict[str, dict[str, list[tuple[bool, float, float]]]] = {}
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    for rec in records:
        key = (rec["dataset"], rec.get("split_seed", 0), rec.get("subsample"))
        if "reference" in rec:
            refs[key] = rec["reference"]
            continue
        ref, task = refs[key], tabular_data.DATASETS[rec["dataset"]].task
        name = label(rec["config"]) + (
            f" [{rec['subsample']} rows]" if rec.get("subsample") else ""
        )
        per = runs.setdefault(name, {}).setdefault(rec["dataset"], [])
        for r in rec["runs"]:
            ok, margin = passes(task, r["score"], ref["sk"], ref["mean"])
            per.append((ok, margin, r["seconds"]))
    datasets = sorted({d for per in runs.values() for d in per})
    print("runs passing the bar / runs, per dataset (median margin); then worst margin, fit s")
    print(f"{'config':70} " + " ".join(f"{d[:8]:>12}" for d in datasets) + "   worst  fit s")
    for name, per in runs.items():
        cells, worst, secs = [], float("inf"), 0.0
        for d in datasets:
            rs = per.get(d, [])
            if not rs:
                cells.append(f"{'-':>12}")
                continue
            ok = sum(r[0] for r in rs)
            cells.append(f"{ok:>2}/{len(rs):<2}({_median([r[1] for r in rs]):+.3f})")
            worst = min(worst, min(r[1] for r in rs))
            secs += _median([r[2] for r in rs])
        print(f"{name:70} " + " ".join(f"{c:>12}" for c in cells) + f" {worst:+.3f} {secs:6.2f}")
    return 0


def builtin(args: argparse.Namespace) -> int:
    """The defaults on the built-in datasets: moons (held-out 20%), diabetes and xor (train)."""
    from service.data.datasets import builtin as load_builtin

    cfgs = [parse_config(c) for c in args.config] if args.config else [{}]
    for cfg in cfgs:
        print(label(cfg))
        for name in ("moons", "diabetes", "xor"):
            accs, secs = [], []
            for seed in args.seeds:
                data = load_builtin(name, samples=500, noise=0.2, seed=seed)
                cells = [[repr(float(v)) for v in row] for row in data.X]
                labels = [str(int(v)) for v in data.y]
                k = int(0.8 * len(labels)) if name == "moons" else len(labels)
                test = slice(k, None) if name == "moons" else slice(None)
                table = Table(
                    name,
                    "binary",
                    list(data.features),
                    [True] * data.X.shape[1],
                    cells[:k],
                    cells[test],
                    labels[:k],
                    labels[test],
                )
                r = run_engine(table, cfg, seed)
                accs.append(r["score"])
                secs.append(r["seconds"])
            where = "held-out 20%" if name == "moons" else "training rows"
            print(
                f"  {name:9} accuracy on {where}: median {_median(accs):.3f} "
                f"(min {min(accs):.3f}) fit {_median(secs):.2f} s"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(tabular_data.DATASETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--config", action="append", help='e.g. "hidden=64,32 lr=0.003 bs=64"')
    p.add_argument("--sweep", action="append", choices=sorted(SWEEPS))
    p.add_argument("--split-seed", type=int, default=tabular_data.SEED, help="0 = documented")
    p.add_argument("--subsample", type=int, help="train on only this many training rows")
    p.add_argument("--summarise", metavar="RESULTS", help="summarise a --results file and exit")
    p.add_argument("--builtin", action="store_true", help="check configs on moons/diabetes/xor")
    p.add_argument("--out", help="where the CSVs go (default: a new temporary directory)")
    p.add_argument("--cache", type=Path, help="distribution cache (see tabular_data.py)")
    p.add_argument("--results", default="/tmp/bench_tabular.jsonl", help="JSON lines log")
    args = p.parse_args(argv)
    if args.summarise:
        return summarise(args.summarise)
    return builtin(args) if args.builtin else bench(args)


if __name__ == "__main__":
    sys.exit(main())
