"""Versioned, crash-safe storage of trained models as npz weights plus verified JSON metadata.

open_store(location) picks the backend: a directory (ModelStore) or s3://bucket/prefix
(S3Store, needing the ``s3`` extra); both implement Store.
"""

from __future__ import annotations

import os

from .artifact import Artifact
from .base import Pointer, Published, Store
from .errors import (
    CorruptArtifact,
    InvalidMetadata,
    InvalidName,
    ModelNotFound,
    StoreError,
    VersionNotFound,
)
from .filesystem import ModelStore
from .format import FORMAT_VERSION
from .names import parse_version, validate_name, validate_version

S3_SCHEME = "s3://"


def open_store(location: str | os.PathLike[str]) -> Store:
    """Open the model store at a directory path or an s3://bucket/prefix URL."""
    text = os.fspath(location)
    if isinstance(text, str) and text.startswith(S3_SCHEME):
        try:
            from .s3 import S3Store  # boto3 is imported only by those who use object storage
        except ImportError:
            raise StoreError("an s3:// model store needs the s3 extra (boto3)") from None
        return S3Store(text)
    return ModelStore(text)


__all__ = [
    "FORMAT_VERSION",
    "Artifact",
    "CorruptArtifact",
    "InvalidMetadata",
    "InvalidName",
    "ModelNotFound",
    "ModelStore",
    "Pointer",
    "Published",
    "Store",
    "StoreError",
    "VersionNotFound",
    "open_store",
    "parse_version",
    "validate_name",
    "validate_version",
]
