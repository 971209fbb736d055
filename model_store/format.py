"""The on-disk artifact format: the only module that knows file names and their contents.

A version directory holds ``weights.npz`` (arrays only, written with ``np.savez`` and read
with ``allow_pickle=False``) and ``model.json``. The model directory holds ``CURRENT``, the
served version number as ASCII text. ``model.json`` carries the caller's metadata plus the
keys in ``RESERVED_KEYS``; ``meta_sha256`` is the SHA-256 of the UTF-8 encoding of
``json.dumps(doc_without_meta_sha256, sort_keys=True, separators=(",", ":"))``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CorruptArtifact, InvalidMetadata, InvalidName
from .names import parse_version

FORMAT_NAME = "nns-model"
FORMAT_VERSION = 1

WEIGHTS_FILE = "weights.npz"
META_FILE = "model.json"
POINTER_FILE = "CURRENT"
# Every version CURRENT has pointed at, one per line, oldest first (append-only).
HISTORY_FILE = "PROMOTIONS"
LOCK_FILE = ".lock"

RESERVED_KEYS = (
    "format",
    "format_version",
    "model",
    "version",
    "created_at",
    "weights_sha256",
    "meta_sha256",
)
# np.savez takes these as its own keyword arguments, so they cannot name arrays.
_SAVEZ_KEYWORDS = frozenset({"file", "allow_pickle"})
_SHA256_RE = re.compile(r"[0-9a-f]{64}", re.ASCII)
_CHUNK = 1 << 20


def check_arrays(arrays: object) -> dict[str, np.ndarray]:
    """Return arrays as a dict of ndarrays, refusing anything that would need pickle to store."""
    if not isinstance(arrays, Mapping):
        raise InvalidMetadata("arrays must be a mapping of name to numpy array")
    checked: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if not isinstance(key, str) or not key or key in _SAVEZ_KEYWORDS:
            raise InvalidMetadata(
                f"invalid array name {key!r}: must be a non-empty string other than "
                "'file' or 'allow_pickle'"
            )
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise InvalidMetadata(f"array {key!r} has an object dtype, which would need pickle")
        checked[key] = array
    return checked


_ATTACHMENT_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,40}\.(png|txt|csv|json)", re.ASCII)
_ATTACHMENT_MAX = 4 << 20


def check_attachments(files: object) -> dict[str, bytes]:
    """Return informational files to store beside the weights, refusing unsafe names or sizes."""
    if not isinstance(files, Mapping):
        raise InvalidMetadata("attachments must be a mapping of file name to bytes")
    checked: dict[str, bytes] = {}
    for name, data in files.items():
        if (
            not isinstance(name, str)
            or _ATTACHMENT_RE.fullmatch(name) is None
            or name in (WEIGHTS_FILE, META_FILE)
        ):
            raise InvalidMetadata(f"invalid attachment name {name!r}")
        if not isinstance(data, bytes) or len(data) > _ATTACHMENT_MAX:
            raise InvalidMetadata(f"attachment {name!r} must be bytes of at most 4 MiB")
        checked[name] = data
    return checked


def write_weights(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """Write arrays to a new npz file at path, fsync it and return its SHA-256 hex digest."""
    with open(path, "xb") as fh:
        # No allow_pickle argument: numpy 1.26 would store it as an array; check_arrays already
        # refused object dtypes.
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_weights(path: Path, expected_sha256: str, label: str) -> dict[str, np.ndarray]:
    """Read and verify a weights file, returning its arrays without ever unpickling."""
    data = _read_artifact_file(path, label)
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual, expected_sha256):
        raise CorruptArtifact(
            f"{label}: {WEIGHTS_FILE} checksum mismatch "
            f"(expected {expected_sha256[:12]}…, got {actual[:12]}…)"
        )
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            for key in npz.files:
                value = npz[key]
                if not isinstance(value, np.ndarray):
                    raise CorruptArtifact(f"{label}: {WEIGHTS_FILE} member {key!r} is not an array")
                arrays[key] = value
    except CorruptArtifact:
        raise
    except ValueError as exc:
        # numpy raises ValueError for object arrays when allow_pickle=False, among others.
        raise CorruptArtifact(
            f"{label}: {WEIGHTS_FILE} is unreadable or needs pickle, refused: {exc}"
        ) from None
    except (OSError, EOFError, KeyError, TypeError) as exc:
        raise CorruptArtifact(f"{label}: {WEIGHTS_FILE} is unreadable: {exc}") from None
    return arrays


def normalise_meta(meta: object) -> dict[str, Any]:
    """Return a JSON round-tripped copy of meta so it hashes identically after reading back."""
    if not isinstance(meta, Mapping):
        raise InvalidMetadata("meta must be a JSON object (a mapping)")
    try:
        text = json.dumps(dict(meta), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidMetadata(f"meta is not JSON-serialisable: {exc}") from None
    return json.loads(text)


def encode_document(meta: dict[str, Any], model: str, version: int, weights_sha256: str) -> bytes:
    """Build model.json from normalised meta; store-owned keys override the caller's."""
    doc = dict(meta)
    doc.update(
        format=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        model=model,
        version=version,
        created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        weights_sha256=weights_sha256,
    )
    doc.pop("meta_sha256", None)
    doc["meta_sha256"] = document_digest(doc)
    return (json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


def document_digest(doc: Mapping[str, Any]) -> str:
    """Return the SHA-256 of the canonical JSON of doc, excluding meta_sha256."""
    body = {k: v for k, v in doc.items() if k != "meta_sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_document(path: Path, model: str, version: int, label: str) -> dict[str, Any]:
    """Read model.json and verify its format, checksum and identity; return the parsed document."""
    data = _read_artifact_file(path, label)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CorruptArtifact(f"{label}: {META_FILE} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise CorruptArtifact(f"{label}: {META_FILE} is not a JSON object")
    if doc.get("format") != FORMAT_NAME:
        raise CorruptArtifact(f"{label}: {META_FILE} is not an {FORMAT_NAME} document")
    found = doc.get("format_version")
    # Checked before the digest so a newer format gets a clear message, not a checksum error.
    if type(found) is not int or found != FORMAT_VERSION:
        raise CorruptArtifact(
            f"{label}: unsupported format version {found!r} (this store reads {FORMAT_VERSION})"
        )
    claimed = doc.get("meta_sha256")
    try:
        actual = document_digest(doc)
    except ValueError:
        actual = ""
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed, actual):
        raise CorruptArtifact(f"{label}: {META_FILE} checksum mismatch (edited or damaged)")
    if doc.get("model") != model or doc.get("version") != version:
        raise CorruptArtifact(
            f"{label}: {META_FILE} describes model {doc.get('model')!r} "
            f"version {doc.get('version')!r}"
        )
    weights_sha = doc.get("weights_sha256")
    if not isinstance(weights_sha, str) or _SHA256_RE.fullmatch(weights_sha) is None:
        raise CorruptArtifact(f"{label}: {META_FILE} has no valid weights_sha256")
    return doc


def encode_pointer(version: int) -> bytes:
    """Return the CURRENT file content for version."""
    return f"{version}\n".encode("ascii")


def decode_pointer(data: bytes) -> int | None:
    """Return the version named by CURRENT content, or None if the content is garbage."""
    try:
        return parse_version(data.decode("ascii").strip())
    except (UnicodeDecodeError, InvalidName):
        return None


def _read_artifact_file(path: Path, label: str) -> bytes:
    """Read a whole artifact file, reporting a missing file as corruption of the artifact."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise CorruptArtifact(f"{label}: {path.name} is missing") from None
