"""scikit-learn's standard pipeline and service.nn on the same held-out rows of real CSVs.

For every dataset of scripts/bench/tabular_data.py (fixed 80/20 split, seed 0) this trains:

* the reference, exactly as the issue states it: a ColumnTransformer with numeric columns ->
  SimpleImputer(median) + StandardScaler and text columns -> SimpleImputer(most_frequent) +
  OneHotEncoder(handle_unknown="ignore"), then MLPClassifier() / MLPRegressor() with their
  defaults and random_state=seed; for regression also the mean predictor (the training mean)
  and, for information only, MLPRegressor on a standardised target ("sk-std-y");
* service.nn (MLP + fit) on the product's own encoding: the cells are read by
  service.data.csvfile, typed by service.data.columns on the training rows and encoded by the
  feature rule (service.data.features), so a sweep measures exactly what nns-train would train
  on; test rows the rule refuses (a category never seen, a missing value where training had
  none) count as wrong. Regression targets are standardised for training and answers mapped
  back to the original units. A validation split (fraction `val`) is carved from the training
  rows with a seeded permutation, and fit() stops early on it (patience `pat`), restoring the
  best weights. scripts/bench/real_data.py runs the product itself (nns-train, gunicorn, HTTP).

Scores are on the held-out test.csv rows: accuracy, or RMSE in the target's units. The bar
(from the issue): accuracy >= reference - 0.03; RMSE <= 1.10 x min(reference, mean predictor),
each on the median over seeds. Times are fit() wall-clock seconds, BLAS pinned to one thread.
DEFAULT (Config's field defaults) is the recommended set: tanh [64], Adam 3e-3, batch 128, at
most 500 epochs with patience 50 on a 20% validation split from 200 training rows up; below
200 rows no validation split and 100 epochs.

    python scripts/bench/bench_tabular.py --seeds 0 1 2 3 4 5 6 7 8 9      # reference + DEFAULT
    python scripts/bench/bench_tabular.py --seeds 0 1 2 3 4 --datasets penguins housing
    python scripts/bench/bench_tabular.py --config "hidden=64,32 bs=64" --config "act=relu lr=0.001"
    python scripts/bench/bench_tabular.py --sweep lr --seeds 0 1 2       # one named sweep (SWEEPS)
    python scripts/bench/bench_tabular.py --split-seed 1 --results r.jsonl ...  # another split
    python scripts/bench/bench_tabular.py --subsample 100 ...            # only 100 training rows
    python scripts/bench/bench_tabular.py --summarise r.jsonl            # pass rates over all runs
    python scripts/bench/bench_tabular.py --builtin                      # DEFAULT on moons/xor/...

A --config string changes DEFAULT's fields (keys: hidden act lr bs ep pat wd val opt min_val
fallback_ep refit); "bs=full" trains full-batch, "hidden=none" is a perceptron, "val=0" trains
without a validation split for fallback_ep epochs, "refit=epochs|steps" retrains on all
training rows after early stopping. Results are also appended as JSON lines to --results
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
from dataclasses import asdict, dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repo root
from service.data.columns import feature_specs  # noqa: E402
from service.data.csvfile import read_csv_text  # noqa: E402
from service.data.features import FeatureError, FeatureSet  # noqa: E402
from service.nn import MLP, OUTPUT_FOR_LOSS, Standardizer, fit  # noqa: E402
from tests.support import public_data as tabular_data  # noqa: E402

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
# Our engine, on the product's encoding


class Encoder:
    """The product's own encoding (service.data: column typing and the feature rule), fitted
    on the training rows; test rows it refuses (a category never seen, a missing value where
    training had none) are reported so the caller can count them as wrong."""

    def __init__(self, table: Table) -> None:
        data = self.dataset(table, table.train, table.y_train)
        self.features = FeatureSet(feature_specs(data))
        self.width = self.features.width

    @staticmethod
    def dataset(table: Table, rows: list[list[str]], y: list[str]):
        """Read cells as the product reads a CSV (service.data.csvfile)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*table.features, TARGET])
        writer.writerows([*r, t] for r, t in zip(rows, y, strict=True))
        return read_csv_text(out.getvalue(), TARGET, na=tuple(tabular_data.MISSING))

    def transform(
        self, rows: list[list[str]], y: list[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (X of the rows the rule accepts, mask of accepted rows)."""
        table_like = Table("", "", self.names, [], rows, [], y or ["0"] * len(rows), [])
        data = self.dataset(table_like, rows, y or ["0"] * len(rows))
        columns = [data.columns[data.features.index(n)] for n in self.names]
        try:
            return self.features.encode(columns), np.ones(len(rows), dtype=bool)
        except FeatureError as exc:
            ok = np.ones(len(rows), dtype=bool)
            for problem in exc.problems:
                ok[problem.rows] = False
            kept = [c[ok] for c in columns]
            return self.features.encode(kept), ok

    @property
    def names(self) -> list[str]:
        return self.features.names


TARGET = "__target__"


@dataclass(frozen=True)
class Config:
    """Candidate defaults for the engine; the field defaults are the recommended ones."""

    hidden: tuple[int, ...] = (64,)
    act: str = "tanh"
    opt: str = "adam"
    lr: float = 3e-3
    bs: int | None = 128  # None = full batch
    ep: int = 500  # most epochs
    pat: int = 50  # early-stopping patience
    wd: float = 0.0
    val: float = 0.2  # validation fraction of the training rows
    min_val: int = 200  # fewer training rows than this: no validation split
    fallback_ep: int = 100  # epochs when there is no validation split
    refit: str = ""  # "epochs"/"steps": after early stopping, retrain on ALL training rows for
    # best_epoch epochs, or for as many optimizer steps as best_epoch took ("" = no refit)

    def label(self) -> str:
        hidden = ",".join(map(str, self.hidden)) or "none"
        bs = "full" if self.bs is None else self.bs
        return (
            f"h={hidden} {self.act} {self.opt} lr={self.lr:g} bs={bs} ep={self.ep} "
            f"pat={self.pat} wd={self.wd:g} val={self.val:g}"
            + (f" min_val={self.min_val}" if self.min_val else "")
            + (f" no-val-ep={self.fallback_ep}" if self.val == 0 or self.min_val else "")
            + (f" refit={self.refit}" if self.refit else "")
        )


DEFAULT = Config()

_KEYS = {
    "hidden": ("hidden", lambda v: () if v == "none" else tuple(int(x) for x in v.split(","))),
    "act": ("act", str),
    "activation": ("act", str),
    "opt": ("opt", str),
    "lr": ("lr", float),
    "bs": ("bs", lambda v: None if v == "full" else int(v)),
    "ep": ("ep", int),
    "epochs": ("ep", int),
    "pat": ("pat", int),
    "patience": ("pat", int),
    "wd": ("wd", float),
    "val": ("val", float),
    "min_val": ("min_val", int),
    "fallback_ep": ("fallback_ep", int),
    "refit": ("refit", lambda v: {"1": "epochs", "0": ""}.get(v, v)),
}


def parse_config(text: str, base: Config = DEFAULT) -> Config:
    """Return base with the fields of "key=value key=value" replaced."""
    changes = {}
    for part in text.split():
        key, _, value = part.partition("=")
        if key not in _KEYS:
            raise SystemExit(f"unknown config key {key!r}; use {sorted(_KEYS)}")
        field, conv = _KEYS[key]
        changes[field] = conv(value)
    return replace(base, **changes)


def run_engine(table: Table, cfg: Config, seed: int) -> dict:
    """Train service.nn with cfg on the table's train rows; score the test rows."""
    enc = Encoder(table)
    X_all, _ = enc.transform(table.train)
    X_test, accepted = enc.transform(table.test)
    regression = table.task == "regression"
    if regression:
        y_raw = np.array(table.y_train, dtype=float)
        y_mean, y_std = float(y_raw.mean()), float(y_raw.std()) or 1.0
        y_all = (y_raw - y_mean) / y_std
        loss, n_out, classes = "mse", 1, None
    else:
        classes = sorted(set(table.y_train))
        y_all = np.searchsorted(classes, table.y_train).astype(float)
        loss = "bce" if len(classes) == 2 else "cce"
        n_out = 1 if loss == "bce" else len(classes)

    rng = np.random.default_rng(seed)
    n = len(y_all)
    use_val = cfg.val > 0 and n >= cfg.min_val
    n_val = max(1, round(n * cfg.val)) if use_val else 0
    order = rng.permutation(n)
    tr, va = order[n_val:], order[:n_val]
    start = time.perf_counter()
    epochs = cfg.ep if use_val else cfg.fallback_ep
    net, history, scaler = _train(cfg, X_all, y_all, tr, va, loss, n_out, rng, epochs)
    if cfg.refit and use_val:
        rng = np.random.default_rng(seed)
        everything = np.arange(n)
        epochs = history.best_epoch or history.epochs_run
        if cfg.refit == "steps":
            per_epoch = -(-len(tr) // (cfg.bs or len(tr))), -(-n // (cfg.bs or n))
            epochs = max(1, round(epochs * per_epoch[0] / per_epoch[1]))
        net, _, scaler = _train(cfg, X_all, y_all, everything, va[:0], loss, n_out, rng, epochs)
    Xt = scaler.transform(X_test)
    seconds = time.perf_counter() - start
    out = net.predict(Xt)
    # Rows the feature rule refused are wrong: no class, or the training mean for regression.
    pred = np.full(len(table.y_test), y_mean if regression else None, dtype=object)
    if regression:
        pred[accepted] = out[:, 0] * y_std + y_mean
    else:
        pred[accepted] = np.array(classes, dtype=object)[net.class_indices(out)]
    score = _score(table, pred) if np.isfinite(out).all() else float("nan")
    return {
        "score": score,
        "seconds": seconds,
        "epochs_run": history.epochs_run,
        "best_epoch": history.best_epoch,
        "inputs": X_all.shape[1],
    }


def _train(cfg, X_all, y_all, tr, va, loss, n_out, rng, epochs):
    """Standardise on rows tr, build and fit a network (early stopping on rows va if any)."""
    scaler = Standardizer.fit(X_all[tr])
    X = scaler.transform(X_all)
    net = MLP(
        X.shape[1],
        list(cfg.hidden),
        n_out,
        activation=cfg.act,
        output=OUTPUT_FOR_LOSS[loss],
        rng=rng,
    )
    with np.errstate(over="ignore", invalid="ignore"):
        history = fit(
            net,
            X[tr],
            y_all[tr],
            loss=loss,
            optimizer=cfg.opt,
            learning_rate=cfg.lr,
            epochs=epochs,
            batch_size=cfg.bs,
            weight_decay=cfg.wd,
            rng=rng,
            validation_data=(X[va], y_all[va]) if va.size else None,
            patience=cfg.pat if va.size else None,
        )
    return net, history, scaler


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
    configs = [DEFAULT] if not (args.config or args.sweep) else []
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
    print(f"{'dataset':9} {'task':10} {'rows':>9} {'in':>4}  reference (median of seeds)")
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
        n_in = Encoder(table).width
        print(
            f"{table.name:9} {table.task:10} {rows:>9} {n_in:>4}  {what}  ({entry['sk_s']:.2f} s)",
            flush=True,
        )

    for cfg in configs:
        print(f"\n{cfg.label()}")
        print(
            f"  {'dataset':9} {'score':>9} {'min':>9} {'max':>9} {'ref':>9} {'pass':>5} "
            f"{'margin':>7} {'fails':>5} {'fit s':>6} {'epochs':>7}"
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
                        "config": asdict(cfg),
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
            f"fit seconds summed over datasets {total_s:.1f}"
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
        fields = {**rec["config"], "hidden": tuple(rec["config"]["hidden"])}
        if isinstance(fields.get("refit"), bool):  # older logs
            fields["refit"] = "epochs" if fields["refit"] else ""
        cfg = Config(**fields)
        ref, task = refs[key], tabular_data.DATASETS[rec["dataset"]].task
        label = cfg.label() + (f" [{rec['subsample']} rows]" if rec.get("subsample") else "")
        per = runs.setdefault(label, {}).setdefault(rec["dataset"], [])
        for r in rec["runs"]:
            ok, margin = passes(task, r["score"], ref["sk"], ref["mean"])
            per.append((ok, margin, r["seconds"]))
    datasets = sorted({d for per in runs.values() for d in per})
    print("runs passing the bar / runs, per dataset (median margin); then worst margin, fit s")
    print(f"{'config':70} " + " ".join(f"{d[:8]:>12}" for d in datasets) + "   worst  fit s")
    for label, per in runs.items():
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
        print(f"{label:70} " + " ".join(f"{c:>12}" for c in cells) + f" {worst:+.3f} {secs:6.2f}")
    return 0


def builtin(args: argparse.Namespace) -> int:
    """The defaults on the built-in datasets: moons (held-out 20%), diabetes and xor (train)."""
    from service.data.datasets import builtin as load_builtin

    cfgs = [parse_config(c) for c in args.config] if args.config else [DEFAULT]
    for cfg in cfgs:
        print(cfg.label())
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
