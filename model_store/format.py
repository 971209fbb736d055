"""The artifact format: the only module that knows file names and their contents.

On a filesystem a version directory holds ``weights.npz`` (arrays only, written with
``np.savez`` and read with ``allow_pickle=False``) and ``model.json``. The model directory
holds ``CURRENT``, the served version number as ASCII text, and ``PROMOTIONS``.
``model.json`` carries the caller's metadata plus the keys in ``RESERVED_KEYS``;
``meta_sha256`` is the SHA-256 of the UTF-8 encoding of
``json.dumps(doc_without_meta_sha256, sort_keys=True, separators=(",", ":"))``.

On object storage the same names are keys under ``<prefix>/<model>/``, except that the weights
and attachments live once under ``blobs/<sha256>`` (the digests in ``model.json`` name them),
``PROMOTIONS/`` holds one empty object per promotion, and ``CURRENT`` is the object
``<prefix>/<model>.CURRENT`` beside the model's folder, with a second line numbering the
promotion: one LIST of the prefix's top level then names every model and carries every
``CURRENT``'s ETag. Stores written before that kept it at ``<prefix>/<model>/CURRENT``, which is
still read for a model that has no ``<model>.CURRENT`` yet.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .errors import CorruptArtifact, InvalidMetadata, InvalidName
from .names import is_model_dirname, is_version_dirname, parse_version

FORMAT_NAME = "nns-model"
FORMAT_VERSION = 1

WEIGHTS_FILE = "weights.npz"
META_FILE = "model.json"
POINTER_FILE = "CURRENT"
# Every version CURRENT has pointed at, one per line, oldest first (append-only); on object
# storage a folder of empty objects named by history_entry().
HISTORY_FILE = "PROMOTIONS"
LOCK_FILE = ".lock"
# Object storage only: weights and attachments, each named by its SHA-256 hex digest.
BLOBS_DIR = "blobs"
# Object storage only: "<model>.CURRENT" at the top level ("." is in no model name).
_POINTER_SUFFIX = "." + POINTER_FILE

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
_HISTORY_ENTRY_RE = re.compile(r"([0-9]{10})-([1-9][0-9]{0,8})", re.ASCII)
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


def is_sha256(text: object) -> bool:
    """Tell whether text is a SHA-256 hex digest (so it can safely name a stored object)."""
    return isinstance(text, str) and _SHA256_RE.fullmatch(text) is not None


def is_attachment_name(name: object) -> bool:
    """Tell whether name may name an attachment (never a path, never a store file)."""
    return (
        isinstance(name, str)
        and _ATTACHMENT_RE.fullmatch(name) is not None
        and name not in (WEIGHTS_FILE, META_FILE)
    )


def check_attachments(files: object) -> dict[str, bytes]:
    """Return informational files to store beside the weights, refusing unsafe names or sizes."""
    if not isinstance(files, Mapping):
        raise InvalidMetadata("attachments must be a mapping of file name to bytes")
    checked: dict[str, bytes] = {}
    for name, data in files.items():
        if not is_attachment_name(name):
            raise InvalidMetadata(f"invalid attachment name {name!r}")
        if not isinstance(data, bytes) or len(data) > _ATTACHMENT_MAX:
            raise InvalidMetadata(f"attachment {name!r} must be bytes of at most 4 MiB")
        checked[name] = data
    return checked


def encode_weights(arrays: dict[str, np.ndarray]) -> bytes:
    """Return the npz bytes of arrays (already checked by check_arrays)."""
    buffer = io.BytesIO()
    # No allow_pickle argument: numpy 1.26 would store it as an array; check_arrays already
    # refused object dtypes.
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def verify_sha256(data: bytes, expected_sha256: str, label: str, filename: str) -> None:
    """Raise CorruptArtifact unless data hashes to expected_sha256."""
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual, expected_sha256):
        raise CorruptArtifact(
            f"{label}: {filename} checksum mismatch "
            f"(expected {expected_sha256[:12]}…, got {actual[:12]}…)"
        )


def decode_weights(data: bytes, expected_sha256: str, label: str) -> dict[str, np.ndarray]:
    """Verify weights bytes against their checksum and return the arrays, never unpickling."""
    verify_sha256(data, expected_sha256, label, WEIGHTS_FILE)
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


def decode_document(data: bytes, model: str, version: int, label: str) -> dict[str, Any]:
    """Parse model.json and verify its format, checksum and identity; return the document."""
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
    if not is_sha256(doc.get("weights_sha256")):
        raise CorruptArtifact(f"{label}: {META_FILE} has no valid weights_sha256")
    return doc


def encode_pointer(version: int, promotion: int | None = None) -> bytes:
    """Return CURRENT's content: the version, then on object storage the promotion's number."""
    if promotion is None:
        return f"{version}\n".encode("ascii")
    return f"{version}\n{promotion}\n".encode("ascii")


def decode_pointer(data: bytes) -> int | None:
    """Return the version named by a filesystem CURRENT, or None if the content is garbage."""
    try:
        return parse_version(data.decode("ascii").strip())
    except (UnicodeDecodeError, InvalidName):
        return None


def decode_numbered_pointer(data: bytes) -> tuple[int | None, int | None]:
    """Return (version, promotion number) from an object-storage CURRENT.

    A one-line CURRENT, as an operator may write by hand, has no promotion number; garbage
    gives (None, None).
    """
    head, _, tail = data.partition(b"\n")
    if not tail.strip():
        return decode_pointer(data), None
    version, promotion = decode_pointer(head), decode_pointer(tail)
    if version is None or promotion is None:
        return None, None
    return version, promotion


def pointer_object(model: str) -> str:
    """Return the name of a model's CURRENT object at the top level of an object store."""
    return model + _POINTER_SUFFIX


def pointer_object_model(entry: str) -> str | None:
    """Return the model whose CURRENT object a top-level entry is, or None if it is not one."""
    model = entry.removesuffix(_POINTER_SUFFIX)
    return model if model != entry and is_model_dirname(model) else None


def decode_history(data: bytes) -> list[int]:
    """Return the versions in a PROMOTIONS file, oldest first, skipping torn or garbage lines."""
    text = data.decode("ascii", "replace")
    return [int(line) for line in text.splitlines() if is_version_dirname(line)]


def history_entry(promotion: int, version: int) -> str:
    """Return the object name that records one promotion on object storage."""
    return f"{promotion:010d}-{version}"


def decode_history_entry(entry: str) -> tuple[int, int] | None:
    """Return (promotion number, version) from a history object's name, or None if foreign."""
    match = _HISTORY_ENTRY_RE.fullmatch(entry)
    if match is None:
        return None
    return int(match[1]), int(match[2])


def newest_first_once(versions_oldest_first: list[int]) -> list[int]:
    """Return the promoted versions most recent first, each once."""
    return list(dict.fromkeys(reversed(versions_oldest_first)))
