"""Exporting a stored version: `nns-export`, and the import of the exporter the route shares.

    nns-export --model NAME [--version V] [--format onnx] --out model.onnx [--triton DIR]
               [--store DIR or s3://bucket/prefix]

The onnx package is an optional extra: without it the service runs, and exporting says how to
install it (`exporter` raises ExportUnavailable, a 503 on the route).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from model_store import StoreError, open_store

from ..errors import ServiceError, Unavailable
from ..settings import get_settings
from ..training.model import TrainedModel

FORMATS = ("onnx",)
INSTALL = "pip install 'nn-service[onnx]'"


class ExportUnavailable(Unavailable):
    """The onnx package is not installed here."""

    code = "export_unavailable"


def exporter() -> ModuleType:
    """Return service.serving.onnx_export; ExportUnavailable when onnx is not installed."""
    try:
        from . import onnx_export
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "onnx":
            raise  # our own import is broken: not the user's to fix
        raise ExportUnavailable(f"ONNX export needs the onnx package: {INSTALL}") from None
    return onnx_export


def write_file(path: Path, data: bytes) -> None:
    """Write data to path through a temporary file and a rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nns-export", description="Write a stored model version as an ONNX graph."
    )
    p.add_argument("--model", required=True, help="the model's name")
    p.add_argument("--version", type=int, help="the version (default: the current one)")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="the file format (onnx)")
    p.add_argument("--out", type=Path, help="the file to write, e.g. model.onnx")
    p.add_argument(
        "--triton",
        type=Path,
        metavar="DIR",
        help="also write a Triton model repository: DIR/NAME/VERSION/model.onnx, "
        "DIR/NAME/config.pbtxt",
    )
    p.add_argument("--store", help="model store: a directory or s3://bucket/prefix "
                   "(default: NNS_MODEL_STORE or data/models)")  # fmt: skip
    return p


def _fail(message: str) -> int:
    print(f"nns-export: error: {message}", file=sys.stderr)
    return 1


def export_main(argv: list[str] | None = None) -> int:
    """Run the export command; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out is None and args.triton is None:
        parser.error("give --out FILE, --triton DIR or both")
    settings = get_settings()
    try:
        onnx_export = exporter()
        store = open_store(args.store or settings.store_root)
        version = store.current_version(args.model) if args.version is None else args.version
        model = TrainedModel(store.load(args.model, version))
        proto = onnx_export.export(model)
    except (StoreError, ServiceError, ValueError) as exc:  # ValueError: unreadable metadata
        return _fail(getattr(exc, "message", None) or str(exc))
    data = proto.SerializeToString()
    head = f"{model.name} version {model.version} ({model.task}, {len(data) / 1024:.1f} kB)"
    if args.out is not None:
        write_file(args.out, data)
        print(f"wrote {args.out}: {head}")
    if args.triton is not None:
        from .triton import config_pbtxt, repository_paths

        model_path, config_path = repository_paths(args.triton, model.name, model.version)
        write_file(model_path, data)
        config = config_pbtxt(proto, model.name, model.version, settings.max_batch)
        write_file(config_path, config.encode())
        print(f"wrote {model_path} and {config_path}: {head}")
    inputs = ", ".join(f"{i.name}" for i in proto.graph.input)
    print(f"inputs: {inputs}; outputs: {', '.join(o.name for o in proto.graph.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(export_main())
