"""`nns-predict`: score a CSV file with a stored model version, as the predict routes do.

    nns-predict --model NAME [--version V] --data in.csv [--out out.csv]
                [--store DIR or s3://bucket/prefix] [--sep SEP] [--decimal MARK] [--json]
                [--strict | --no-strict]

The file is streamed (service.serving.filescore): any length in bounded memory, with a progress
bar on stderr when it is a terminal. The answers go to --out through a temporary file and a
rename (never half a file), or to stdout once the whole file scored without a problem.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from model_store import StoreError, open_store

from ..data.csvfile import BY_NAME, named
from ..errors import ServiceError
from ..settings import get_settings
from .filescore import score_file
from .predictor import Predictor

BAR = 24  # characters of the progress bar


class ProgressBar:
    """Draw `[####----]  45%  45,000 rows` on a terminal, at most ten times a second."""

    def __init__(self, total: int, stream=sys.stderr) -> None:
        self.total, self.stream, self.last = max(total, 1), stream, 0.0

    def __call__(self, done: int, rows: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < 0.1:
            return
        self.last = now
        share = min(done / self.total, 1.0)
        filled = round(share * BAR)
        bar = "#" * filled + "-" * (BAR - filled)
        self.stream.write(f"\r[{bar}] {share:4.0%}  {rows:,} rows")
        if final:
            self.stream.write("\n")
        self.stream.flush()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nns-predict",
        description="Score every row of a CSV with a stored model version; write the rows back "
        "with label and probability_<class> (or prediction) added.",
    )
    p.add_argument("--model", required=True, help="the model's name")
    p.add_argument("--version", type=int, help="the version (default: the current one)")
    p.add_argument("--data", required=True, type=Path, help="the CSV to score")
    p.add_argument("--out", type=Path, help="the CSV to write (default: stdout)")
    p.add_argument("--store", help="model store: a directory or s3://bucket/prefix "
                   "(default: NNS_MODEL_STORE or data/models)")  # fmt: skip
    for option, what in (("sep", "delimiter"), ("decimal", "decimal mark")):
        names = BY_NAME[option]
        p.add_argument(f"--{option}", choices=[*names, *names.values()],
                       help=f"the {what}, by name or character (default: detected)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="write the answers as JSON, not CSV")
    p.add_argument("--strict", action=argparse.BooleanOptionalAction,
                   help="refuse a category never seen in training instead of scoring it with a "
                   "warning (default: NNS_STRICT_CATEGORIES)")  # fmt: skip
    p.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   help="draw a progress bar on stderr (default: on a terminal)")  # fmt: skip
    return p


def _fail(message: str) -> int:
    print(f"nns-predict: error: {message}", file=sys.stderr)
    return 1


def _score(args, predictor: Predictor, out: BinaryIO, strict: bool) -> int:
    total = args.data.stat().st_size
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    bar = ProgressBar(total) if show else None
    with open(args.data, "rb") as data:
        rows = score_file(
            predictor, data.read, out, as_csv=not args.json, progress=bar,
            sep=named("sep", args.sep), decimal=named("decimal", args.decimal), strict=strict,
        )  # fmt: skip
    if bar is not None:
        bar(total, rows, final=True)
    return rows


def predict_main(argv: list[str] | None = None) -> int:
    """Run the scoring command; return the process exit status."""
    args = build_parser().parse_args(argv)
    settings = get_settings()
    try:
        store = open_store(args.store or settings.store_root)
        version = store.current_version(args.model) if args.version is None else args.version
        predictor = Predictor(store.load(args.model, version), settings.max_batch)
    except (StoreError, ServiceError, ValueError) as exc:  # ValueError: unreadable metadata
        return _fail(getattr(exc, "message", None) or str(exc))
    if not args.data.is_file():
        return _fail(f"cannot read {args.data}: no such file")
    target = args.out
    folder = target.parent if target else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name if target else 'scored'}.", dir=folder)
    try:
        with os.fdopen(fd, "w+b") as out:
            strict = settings.strict_categories if args.strict is None else args.strict
            rows = _score(args, predictor, out, strict)
            if target is None:
                out.seek(0)
                shutil.copyfileobj(out, sys.stdout.buffer)
                sys.stdout.flush()
        if target is not None:
            os.replace(tmp, target)
    except ServiceError as exc:
        return _fail(exc.message)
    except OSError as exc:
        return _fail(f"cannot read {args.data} or write the answers: {exc.strerror or exc}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    head = f"{rows:,} rows scored by {predictor.name} version {predictor.version}"
    print(f"wrote {target}: {head}" if target else head, file=sys.stdout if target else sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(predict_main())
