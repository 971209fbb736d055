"""Time a large CSV from file to one trained epoch: read, encode, fit, and peak memory.

The data is issue 22's: 18 columns (15 numbers with three decimals, two text columns of 20 and
5 values, a yes/no target), written once per size into --dir. Each size runs in a fresh
process per reader, so peak RSS is that reader's alone; pandas.read_csv of the same file runs
in the same invocation for comparison. BLAS is pinned to one thread (the trainer's default
environment on a shared host); Arrow's CSV reader uses its own thread pool.

    make bench-ingest                                            # 10^5, 10^6, 10^7 rows
    python scripts/bench/bench_ingest.py --rows 1000000 --repeats 3 --libraries

Columns: read (service.data.csvfile.read_csv_file), encode (column typing and FeatureSet.encode
into the input matrix), target (service.training.task.encode_target), fit (standardising and
one epoch of service.nn.fit with nns-train's default network and batch size); x pandas: read
plus encode over pandas.read_csv's time in the same run. --libraries adds pyarrow and polars read
straight into NumPy arrays (text as codes), the two candidates the reader was chosen from.

Needs: pandas, and polars for --libraries (make bench-ingest installs both; neither is a
dependency of the product).
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TARGET = "churn"
CITIES = [f"city{i}" for i in range(20)]
PLANS = ["basic", "plus", "pro", "team", "enterprise"]
CHUNK = 500_000


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Write the benchmark CSV: x0..x14, city, plan, churn (yes/no, following x0 and plan)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    names = [f"x{j}" for j in range(15)] + ["city", "plan", TARGET]
    schema = pa.schema(
        [(n, pa.float64()) for n in names[:15]] + [(n, pa.string()) for n in names[15:]]
    )
    partial = path.with_suffix(".partial")
    with pacsv.CSVWriter(str(partial), schema) as writer:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            numbers = [np.round(rng.normal(size=n) * 10 ** (j % 4), 3) for j in range(15)]
            plan = rng.integers(0, len(PLANS), n)
            score = numbers[0] + 0.5 * plan + rng.normal(size=n)
            text = [
                np.array(CITIES, dtype=object)[rng.integers(0, len(CITIES), n)],
                np.array(PLANS, dtype=object)[plan],
                np.where(score > 1, "yes", "no").astype(object),
            ]
            writer.write_table(pa.table(numbers + text, schema=schema))
    partial.rename(path)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _NoPandas:
    """pyarrow imports pandas on first use when it is installed (1.4 s here); the product's
    environment has no pandas, so the product's run has none either."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ImportError("pandas is not part of the product")


def run_product(path: str) -> dict:
    """Read, encode and fit one epoch as nns-train does; seconds and peak MB after each step."""
    sys.meta_path.insert(0, _NoPandas())
    from service.data.columns import feature_specs
    from service.data.csvfile import read_csv_file
    from service.data.features import FeatureSet
    from service.nn import MLP, OUTPUT_FOR_LOSS, Standardizer, fit
    from service.training.spec import Hyperparameters
    from service.training.task import encode_target

    out: dict = {}
    started = time.perf_counter()
    data = read_csv_file(path, TARGET)
    out["read"], out["read_mb"] = time.perf_counter() - started, peak_mb()
    started = time.perf_counter()
    specs = feature_specs(data)
    X = FeatureSet(specs).encode(data.columns)
    out["encode"], out["encode_mb"], out["width"] = (
        time.perf_counter() - started,
        peak_mb(),
        X.shape[1],
    )
    started = time.perf_counter()
    target = encode_target(data.y, data.target)
    out["target"] = time.perf_counter() - started
    del data
    params = Hyperparameters()
    started = time.perf_counter()
    X = Standardizer.fit(X).transform(X)
    rng = np.random.default_rng(0)
    net = MLP(X.shape[1], params.hidden, 1, activation=params.activation,
              output=OUTPUT_FOR_LOSS[target.loss], rng=rng)  # fmt: skip
    steps = {"learning_rate": params.learning_rate, "batch_size": params.batch_size}
    fit(net, X, target.y, loss=target.loss, optimizer=params.optimizer, epochs=1, rng=rng, **steps)
    out["fit"], out["fit_mb"] = time.perf_counter() - started, peak_mb()
    return out


def run_pandas(path: str) -> dict:
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(path)
    out = {"read": time.perf_counter() - started, "read_mb": peak_mb()}
    assert len(frame.columns) == 18
    return out


def run_arrow(path: str) -> dict:
    """pyarrow.csv alone, into float64 arrays and int32 codes."""
    sys.meta_path.insert(0, _NoPandas())
    import pyarrow as pa
    import pyarrow.csv as pacsv

    started = time.perf_counter()
    options = pacsv.ConvertOptions(auto_dict_encode=True, auto_dict_max_cardinality=2**31 - 1)
    table = pacsv.read_csv(path, convert_options=options)
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.unify_dictionaries()
            codes = [c.indices.to_numpy(zero_copy_only=False) for c in column.chunks]
            columns.append((np.concatenate(codes), column.chunk(0).dictionary.to_pylist()))
        else:
            columns.append(column.to_numpy())
    del table
    return {"read": time.perf_counter() - started, "read_mb": peak_mb()}


def run_polars(path: str) -> dict:
    """polars alone, into float64 arrays and codes."""
    import polars as pl

    started = time.perf_counter()
    frame = pl.read_csv(path)
    columns = []
    for series in frame.get_columns():
        if series.dtype == pl.String:
            values = series.drop_nulls().unique().to_list()
            columns.append((series.cast(pl.Enum(values)).to_physical().to_numpy(), values))
        else:
            columns.append(series.to_numpy())
    del frame
    return {"read": time.perf_counter() - started, "read_mb": peak_mb()}


RUNS = {"product": run_product, "pandas": run_pandas, "arrow": run_arrow, "polars": run_polars}


def child(which: str, path: Path) -> dict:
    """Run one reader on one file in a fresh process; return what it measured."""
    cmd = [sys.executable, __file__, "--child", which, str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def table(rows: int, path: Path, measured: dict[str, list[dict]]) -> list[str]:
    size = path.stat().st_size / 1e6
    pandas = measured.get("pandas", [])
    baseline = median(pandas, "read") if pandas and "error" not in pandas[0] else None
    lines = []
    for which, results in measured.items():
        head = f"| {rows:,} | {size:,.0f} MB | {which} |"
        if any("error" in r for r in results):
            lines.append(f"{head} failed: {results[0]['error']} |")
            continue
        read, peak = median(results, "read"), max(r["read_mb"] for r in results)
        if which != "product":
            lines.append(f"{head} {read:.2f} | | | | {peak:,.0f} | | |")
            continue
        encode, target, fit = (median(results, k) for k in ("encode", "target", "fit"))
        ratio = f"{(read + encode) / baseline:.1f}x" if baseline else ""
        encoded_mb = max(r["encode_mb"] for r in results)
        fit_mb = max(r["fit_mb"] for r in results)
        lines.append(
            f"{head} {read:.2f} | {encode:.2f} | {target:.2f} | {fit:.2f} | {encoded_mb:,.0f} "
            f"| {fit_mb:,.0f} | {ratio} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10**5, 10**6, 10**7])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/nns-bench-ingest"))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--libraries", action="store_true", help="also pyarrow and polars alone")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(RUNS[args.child[0]](args.child[1])))
        return 0
    args.dir.mkdir(parents=True, exist_ok=True)
    readers = ["product", "pandas"] + (["arrow", "polars"] if args.libraries else [])
    print(
        "| rows | file | reader | read s | encode s | target s | fit s (1 epoch) "
        "| peak MB read+encode | peak MB with fit | read+encode x pandas |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rows in args.rows:
        path = args.dir / f"churn_{rows}.csv"
        if not path.exists():
            generate(path, rows)
        measured: dict[str, list[dict]] = {r: [] for r in readers}
        for _ in range(args.repeats):  # round-robin, so load from elsewhere hits all alike
            for which in readers:
                measured[which].append(child(which, path))
        print("\n".join(table(rows, path, measured)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
