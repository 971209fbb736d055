"""Time service.nn against scikit-learn's MLPClassifier and a plain PyTorch loop, side by side.

Same data, architecture, epochs, batch size, optimizer and dtype for every engine; BLAS and
torch are pinned to one thread. Engines are run round-robin (one repeat of each in turn) so
load from other processes on the machine hits them alike. The table reports the median time
and the mean test accuracy over repeats (each repeat draws a fresh moons sample and holds out
20% of it).

    python scripts/bench/bench_train.py                 # both tasks, 5 repeats, float64
    python scripts/bench/bench_train.py --repeats 3 --tasks small --dtype float32

Needs: pip install scikit-learn threadpoolctl torch
"""

import os

# Must be set before numpy (or torch) loads its BLAS; threadpoolctl below enforces it too.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root
from service.data.datasets import make_moons  # noqa: E402
from service.nn import MLP, fit  # noqa: E402

SMALL_TARGET, LARGE_TARGET = 0.35, 0.6  # engine time as a fraction of scikit-learn's


@dataclass(frozen=True)
class Task:
    name: str
    n_samples: int
    hidden: tuple[int, ...]
    epochs: int
    batch_size: int | None  # None = full batch
    learning_rate: float
    target: float


TASKS = {
    "small": Task("small", 500, (10,), 2000, None, 0.01, SMALL_TARGET),
    "large": Task("large", 100_000, (64, 64), 20, 256, 0.001, LARGE_TARGET),
}
ACTIVATION = "relu"


def split(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Return X_train, y_train, X_test, y_test with the last 20% held out (data is shuffled)."""
    k = int(0.8 * len(X))
    return X[:k], y[:k], X[k:], y[k:]


# Each runner trains on (X, y), returns (seconds spent training, accuracy on held-out data).
Runner = Callable[[Task, tuple[np.ndarray, ...], int], tuple[float, float]]


def run_engine(task: Task, data: tuple[np.ndarray, ...], seed: int) -> tuple[float, float]:
    X, y, X_test, y_test = data
    start = time.perf_counter()
    net = MLP(
        2,
        list(task.hidden),
        1,
        activation=ACTIVATION,
        output="sigmoid",
        dtype=str(X.dtype),
        rng=np.random.default_rng(seed),
    )
    fit(
        net,
        X,
        y,
        loss="bce",
        optimizer="adam",
        learning_rate=task.learning_rate,
        epochs=task.epochs,
        batch_size=task.batch_size,
        rng=np.random.default_rng(seed + 1),
    )
    seconds = time.perf_counter() - start
    return seconds, float(np.mean((net.predict(X_test)[:, 0] > 0.5) == y_test))


def run_sklearn(task: Task, data: tuple[np.ndarray, ...], seed: int) -> tuple[float, float]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y, X_test, y_test = data
    clf = MLPClassifier(
        hidden_layer_sizes=task.hidden,
        activation=ACTIVATION,
        solver="adam",
        alpha=0.0,
        batch_size=len(X) if task.batch_size is None else task.batch_size,
        learning_rate_init=task.learning_rate,
        max_iter=task.epochs,
        shuffle=True,
        random_state=seed,
        tol=0.0,
        n_iter_no_change=task.epochs + 1,  # never stop early: run exactly max_iter epochs
        early_stopping=False,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached is the point
        clf.fit(X, y)
    seconds = time.perf_counter() - start
    return seconds, float(clf.score(X_test, y_test))


def run_torch(task: Task, data: tuple[np.ndarray, ...], seed: int) -> tuple[float, float]:
    import torch

    X_np, y_np, X_test, y_test = data
    torch.manual_seed(seed)
    dtype = torch.float64 if X_np.dtype == np.float64 else torch.float32
    start = time.perf_counter()
    sizes = [2, *task.hidden]
    layers: list[torch.nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 1)).to(dtype)
    opt = torch.optim.Adam(model.parameters(), lr=task.learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    X = torch.from_numpy(X_np)
    y = torch.from_numpy(y_np.astype(X_np.dtype)).unsqueeze(1)
    n = len(X)
    bs = n if task.batch_size is None else task.batch_size
    gen = torch.Generator().manual_seed(seed)
    for _ in range(task.epochs):
        if bs < n:
            perm = torch.randperm(n, generator=gen)
            Xe, ye = X[perm], y[perm]
        else:
            Xe, ye = X, y
        for s in range(0, n, bs):
            opt.zero_grad()
            loss = loss_fn(model(Xe[s : s + bs]), ye[s : s + bs])
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        logits = model(torch.from_numpy(X_test)).numpy()[:, 0]
    return seconds, float(np.mean((logits > 0) == y_test))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=["small", "large"])
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch baseline")
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(1)
    runners: dict[str, Runner] = {"service.nn": run_engine, "scikit-learn": run_sklearn}
    if not args.no_torch:
        import torch

        torch.set_num_threads(1)
        runners["pytorch"] = run_torch

    import sklearn

    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}", end="")
    print("" if args.no_torch else f", torch {torch.__version__} ({torch.get_num_threads()} thr)")
    print("thread pools (numpy and service.nn use numpy's OpenBLAS, scikit-learn uses numpy's and")
    print("scipy's OpenBLAS plus OpenMP, torch its own OpenMP/MKL-DNN):")
    for pool in threadpool_info():
        lib = Path(pool["filepath"]).name
        print(f"  {pool['internal_api']} {pool.get('version') or ''} {lib}: {pool['num_threads']}")
    print(f"dtype {args.dtype}, activation {ACTIVATION}, adam, {args.repeats} repeats")
    print("median training time, mean held-out accuracy, ratio = time / scikit-learn's time\n")

    rows, verdicts = [], []
    for name in args.tasks:
        task = TASKS[name]
        results: dict[str, list[tuple[float, float]]] = {e: [] for e in runners}
        for r in range(args.repeats):
            # A fresh moons sample per repeat: 100 test points alone cannot rank two engines
            # that implement the same algorithm, the mean over repeats can do a little better.
            moons = make_moons(task.n_samples, 0.2, seed=1000 + r)
            X, y = moons.X, moons.y
            data = split(X.astype(args.dtype), y)
            for engine, run in runners.items():  # round-robin: noise hits every engine alike
                results[engine].append(run(task, data, seed=r))
        med = {
            e: (statistics.median(s for s, _ in res), statistics.fmean(a for _, a in res))
            for e, res in results.items()
        }
        base_s, base_acc = med["scikit-learn"]
        desc = (
            f"{name}: moons {task.n_samples}, 2-{'-'.join(map(str, task.hidden))}-1, "
            f"{task.epochs} ep, batch {task.batch_size or 'full'}, lr {task.learning_rate}"
        )
        for engine, (secs, acc) in med.items():
            rows.append(f"| {desc} | {engine} | {secs:.3f} | {secs / base_s:.2f} | {acc:.4f} |")
        secs, acc = med["service.nn"]
        fast, accurate = secs / base_s <= task.target, acc >= base_acc
        # Paired over repeats (same test set per repeat): how big the gap is next to its noise.
        pairs = zip(results["service.nn"], results["scikit-learn"], strict=True)
        diffs = [a - b for (_, a), (_, b) in pairs]
        spread = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else float("nan")
        verdicts.append(
            f"{name}: time {secs / base_s:.2f}x sklearn (target <= {task.target}x) "
            f"{'MET' if fast else 'NOT MET'}; accuracy {acc:.4f} vs sklearn {base_acc:.4f} "
            f"(difference {acc - base_acc:+.4f}, standard error {spread:.4f}) "
            f"{'MET' if accurate else 'NOT MET'}"
        )

    print("| task | engine | median s | vs sklearn | mean test accuracy |")
    print("|---|---|---:|---:|---:|")
    print("\n".join(rows))
    print()
    print("\n".join(verdicts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
