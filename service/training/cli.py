"""The offline training command: `nns-train` and `python scripts/train.py`."""

from __future__ import annotations

import argparse
import json
import sys
import time

from pydantic import ValidationError

from model_store import ModelStore, StoreError, validate_name

from ..data import datasets
from ..settings import get_settings
from .pipeline import Hyperparameters, train_model


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line instead of usage + error
        self.exit(2, f"{self.prog}: error: {message}\n")


def _hidden(text: str) -> list[int]:
    if text.strip().lower() in ("none", ""):
        return []
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid --hidden {text!r}: use widths like 4 or 64,64, or none"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """Return the parser; defaults left as None fall back to `Hyperparameters`."""
    p = _Parser(prog="nns-train", description="Train a network and publish it to the model store.")
    p.add_argument("--model", help="model name (default: the dataset's name)")
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--dataset", choices=datasets.BUILTIN, help="built-in dataset (default diabetes)"
    )
    src.add_argument("--data", metavar="FILE.csv", help="CSV file with a header row")
    p.add_argument("--target", help="target column of --data")
    p.add_argument("--samples", type=int, default=500, help="moons: number of samples")
    p.add_argument("--noise", type=float, default=0.2, help="moons: noise standard deviation")
    p.add_argument("--hidden", type=_hidden, help="hidden widths: 4, 64,64 or none")
    p.add_argument("--activation", choices=["sigmoid", "tanh", "relu", "identity"])
    p.add_argument("--loss", choices=["bce", "cce", "mse"])
    p.add_argument("--optimizer", choices=["sgd", "adam"])
    p.add_argument("--lr", type=float, dest="learning_rate")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--validation-split", type=float)
    p.add_argument("--patience", type=int)
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--dtype", choices=["float64", "float32"])
    p.add_argument("--store", help="model store root (default: NNS_MODEL_STORE or data/models)")
    p.add_argument("--no-promote", action="store_true", help="publish without making it current")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    return p


HYPER_FLAGS = [
    "hidden",
    "activation",
    "loss",
    "optimizer",
    "learning_rate",
    "epochs",
    "batch_size",
    "seed",
    "validation_split",
    "patience",
    "momentum",
    "weight_decay",
    "dtype",
]
FLAG_NAMES = {"learning_rate": "--lr"}


class ProgressBar:
    """Draw `[####----] epoch/epochs loss` on stderr, at most ten times a second."""

    def __init__(self, stream=sys.stderr, width: int = 30) -> None:
        self.stream, self.width, self.last = stream, width, 0.0

    def __call__(self, epoch: int, epochs: int, loss: float) -> None:
        now = time.monotonic()
        if epoch != epochs and now - self.last < 0.1:
            return
        self.last = now
        done = int(self.width * epoch / epochs)
        bar = "#" * done + "-" * (self.width - done)
        self.stream.write(f"\r[{bar}] {epoch}/{epochs} loss {loss:.5f}")
        if epoch == epochs:
            self.stream.write("\n")
        self.stream.flush()


def _fail(message: str) -> int:
    print(f"nns-train: error: {message}", file=sys.stderr)
    return 1


def _summary(result, elapsed: float) -> str:
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items() if isinstance(v, float))
    state = "current" if result.promoted else "not promoted"
    return (
        f"model {result.model} version {result.version} ({state}) in {elapsed:.2f} s\n"
        f"metrics on {result.metrics['evaluated_on']} data: {metrics}\n"
        f"store {result.store}"
    )


def train_main(argv: list[str] | None = None) -> int:
    """Run the training command; return the process exit status."""
    args = build_parser().parse_args(argv)
    if args.data and not args.target:
        return _fail("--data needs --target COLUMN")
    if args.target and not args.data:
        return _fail("--target only applies to --data")
    dataset_name = args.dataset or ("diabetes" if not args.data else None)
    name = args.model or dataset_name
    if not name:
        return _fail("--model NAME is required with --data")
    given = {k: getattr(args, k) for k in HYPER_FLAGS if getattr(args, k) is not None}
    try:
        validate_name(name)
        params = Hyperparameters(**given)
        if args.data:
            data = datasets.from_csv_file(args.data, args.target)
        else:
            data = datasets.builtin(
                dataset_name, samples=args.samples, noise=args.noise, seed=params.seed
            )
        store = ModelStore(args.store or get_settings().store_root)
        started = time.perf_counter()
        result = train_model(
            data,
            params,
            store,
            name,
            promote=not args.no_promote,
            progress=None if args.json else ProgressBar(),
            source=args.data or f"dataset:{dataset_name}",
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "hyperparameters"
        flag = FLAG_NAMES.get(field, "--" + field.replace("_", "-"))
        return _fail(f"{flag}: {err['msg']}")
    except (ValueError, StoreError) as exc:  # DatasetError is a ValueError
        return _fail(str(exc))
    if args.json:
        out = {"model": name, "version": result.version, "metrics": result.metrics}
        print(json.dumps({**out, "promoted": result.promoted, "store": result.store}))
    else:
        print(_summary(result, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(train_main())
