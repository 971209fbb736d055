"""The offline training command: `nns-train` and `python scripts/train.py`.

Its flags are generated from the training spec (service/training/spec.py): one flag per field,
with the field's description as help and its choices; values are validated by the spec.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import typing
from pathlib import Path

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from model_store import StoreError, open_store

from ..settings import get_settings
from .pipeline import Prepared, prepare, train_model
from .promotion import fmt
from .request import FLAT_FIELDS, TrainRequest, flat_loc, from_flat, load
from .spec import Hyperparameters

ALIASES = {"learning_rate": ["--lr"]}  # short forms kept from the first release
CLI_ONLY_HTTP = ("timeout",)  # spec fields only HTTP requests have


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line instead of usage + error
        self.exit(2, f"{self.prog}: error: {message}\n")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add(parser, name: str, info: FieldInfo, group=None) -> None:
    """Add the flag of one spec field; its value stays a string until the spec validates it.

    A list field (--exclude, --na) may be given several times; the values add up.
    """
    choices = _choices(info.annotation)
    many = "list[" in str(info.annotation)
    (group or parser).add_argument(
        flag(name),
        *ALIASES.get(name, []),
        dest=name,
        choices=choices,
        help=info.description,
        action="append" if many and name != "hidden" else "store",
    )


def _choices(annotation) -> list[str] | None:
    """Return the values of a Literal (or Literal | None) annotation, else None."""
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Literal:
            return list(typing.get_args(arg))
    return None


def build_parser() -> argparse.ArgumentParser:
    """Return the parser: every spec field a flag, plus where the data and the store are."""
    p = _Parser(prog="nns-train", description="Train a network and publish it to the model store.")
    fields = TrainRequest.model_fields
    src = p.add_mutually_exclusive_group()
    _add(p, "model", fields["model"])
    _add(p, "dataset", fields["dataset"], src)
    src.add_argument("--data", metavar="FILE.csv", help="CSV file with a header row")
    for name in FLAT_FIELDS:
        if name not in ("model", "dataset", *CLI_ONLY_HTTP):
            _add(p, name, fields[name])
    for name, info in Hyperparameters.model_fields.items():
        _add(p, name, info)
    p.add_argument("--store", help="model store root (default: NNS_MODEL_STORE or data/models)")
    p.add_argument("--no-promote", action="store_true", help="the same as --promote never")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    return p


class ProgressBar:
    """Draw `[####----] epoch/epochs loss` on stderr, at most ten times a second."""

    def __init__(self, stream=sys.stderr, width: int = 30) -> None:
        self.stream, self.width, self.last = stream, width, 0.0
        self.epoch, self.loss, self.open = 0, 0.0, False

    def __call__(self, epoch: int, epochs: int, loss: float) -> None:
        self.epoch, self.loss = epoch, loss
        now = time.monotonic()
        if epoch != epochs and now - self.last < 0.1:
            return
        self.last = now
        done = int(self.width * epoch / epochs)
        bar = "#" * done + "-" * (self.width - done)
        self.stream.write(f"\r[{bar}] {epoch}/{epochs} loss {loss:.5f}")
        self.open = epoch != epochs
        if not self.open:
            self.stream.write("\n")
        self.stream.flush()

    def finish(self, result) -> None:
        """End the bar's line; say how many epochs the published model trained."""
        if self.open:
            self.stream.write(f"\r{' ' * (self.width + 40)}\r")
        if result.metrics.evaluated_on == "cross_validation":
            n = result.epochs_run
            self.stream.write(
                f"the published model trained {n} epoch{'s' if n != 1 else ''} on every row "
                "(the epochs the folds' early stopping chose)\n"
            )
        elif result.stopped_early:
            self.stream.write(
                f"stopped early at epoch {result.epochs_run} (no better validation loss for "
                f"the patience window; the best epoch's weights are kept)\n"
            )
        self.stream.flush()


def _fail(message: str) -> int:
    print(f"nns-train: error: {message}", file=sys.stderr)
    return 1


def _numbers(scores) -> str:
    values = scores.model_dump().items()
    return ", ".join(f"{k} {fmt(v)}" for k, v in values if isinstance(v, float))


def _summary(result, elapsed: float) -> str:
    state = "current" if result.promoted else "not promoted"
    lines = [
        f"model {result.model} version {result.version} ({state}) in {elapsed:.2f} s",
        f"metrics {_rows(result.metrics)}: {_numbers(result.metrics)}",
        f"baseline ({result.baseline.kind}) on the same rows: {_numbers(result.baseline)}",
    ]
    if result.importance:
        top = ", ".join(f"{i.feature} {fmt(i.increase)}" for i in result.importance[:5])
        lines.append(f"importance (increase of the {_primary(result)} when shuffled): {top}")
    return "\n".join([*lines, result.reason, f"store {result.store}"])


def _rows(metrics) -> str:
    """Say which rows the metrics come from, for people."""
    if metrics.evaluated_on == "cross_validation":
        return f"out of fold ({metrics.folds}-fold cross-validation over {metrics.rows} rows)"
    if metrics.evaluated_on == "holdout":
        return f"on {metrics.rows} held-out rows (never trained on)"
    return f"on the {metrics.rows} training rows (too few rows to hold any out)"


def _primary(result) -> str:
    return "RMSE" if result.task == "regression" else "log loss"


def describe_data(prepared: Prepared) -> str:
    """Return the lines that say how the data was read and typed, one line per column."""
    data, specs, target = prepared.data, prepared.specs, prepared.target
    head = f"data: {data.rows} rows"
    if data.dropped:
        head += f" ({data.dropped} dropped: no {data.target!r} value)"
    if data.source.get("delimiter"):
        head += f", {data.source['delimiter']}-separated"
    if data.source.get("decimal"):
        head += f", decimal {data.source['decimal']}s"
    width = max([len(s.name) for s in specs] + [len(data.target)])
    lines = [head]
    for s in specs:
        lines.append(f"  {s.name:<{width}}  {s.describe()}")
    if target.task == "regression":
        what = f"regression (answers in the target's units; mean {fmt(target.mean)})"
    else:
        shown = ", ".join(str(c) for c in target.classes[:10])
        more = f", ... ({len(target.classes)} in all)" if len(target.classes) > 10 else ""
        what = f"{target.task}: {shown}{more}"
        if target.task == "binary":
            what += f" (probability is for {target.classes[1]!s})"
    lines.append(f"  {data.target:<{width}}  target, {what}")
    return "\n".join(lines)


def _request(args: argparse.Namespace) -> TrainRequest:
    """Validate the flags as a TrainRequest; the model defaults to the dataset's name."""
    given = {k: v for k, v in vars(args).items() if v is not None}
    for key in ("exclude", "na"):  # given several times: the values add up
        if isinstance(given.get(key), list):
            given[key] = ",".join(given[key])
    flat = {k: v for k, v in given.items() if k in FLAT_FIELDS or k in _HYPER}
    if not args.data:
        flat.setdefault("dataset", "diabetes")
    flat.setdefault("model", flat.get("dataset"))
    if args.no_promote:
        flat["promote"] = "never"
    return from_flat(flat, **({"file": args.data} if args.data else {}))


_HYPER = set(Hyperparameters.model_fields)


def train_main(argv: list[str] | None = None) -> int:
    """Run the training command; return the process exit status."""
    args = build_parser().parse_args(argv)
    if args.data and not args.target:
        return _fail("--data needs --target COLUMN")
    if args.target and not args.data:
        return _fail("--target only applies to --data")
    if args.data and not args.model:
        return _fail("--model NAME is required with --data")
    try:
        req = _request(args)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = flat_loc(err["loc"])
        if not loc:
            return _fail(err["msg"].removeprefix("Value error, "))
        return _fail(f"invalid {ALIASES.get(loc[0], [flag(str(loc[0]))])[0]}: {err['msg']}")
    try:
        location = str(args.store or get_settings().store_root)
        # A directory is shown and stored as an absolute path; an s3:// location as given.
        store = open_store(location if "://" in location else Path(location).resolve())
        prepared = prepare(req, load(req), store)
        if not args.json:
            print(describe_data(prepared), flush=True)
        bar = None if args.json else ProgressBar()
        started = time.perf_counter()
        result = train_model(req, prepared, store, progress=bar)
    except (ValueError, StoreError) as exc:  # DatasetError is a ValueError
        return _fail(str(exc))
    if bar is not None:
        bar.finish(result)
    if args.json:
        out = {"model": req.model, "version": result.version}
        out["metrics"] = result.metrics.model_dump(mode="json")
        out["baseline"] = result.baseline.model_dump(mode="json")
        out |= {"promoted": result.promoted, "reason": result.reason}
        print(json.dumps({**out, "task": result.task, "store": result.store}))
    else:
        print(_summary(result, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(train_main())
