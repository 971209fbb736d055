"""Versioned, crash-safe storage of trained models as npz weights plus verified JSON metadata."""

from .artifact import Artifact
from .errors import (
    CorruptArtifact,
    InvalidMetadata,
    InvalidName,
    ModelNotFound,
    StoreError,
    VersionNotFound,
)
from .format import FORMAT_VERSION
from .names import parse_version, validate_name, validate_version
from .store import ModelStore

__all__ = [
    "FORMAT_VERSION",
    "Artifact",
    "CorruptArtifact",
    "InvalidMetadata",
    "InvalidName",
    "ModelNotFound",
    "ModelStore",
    "StoreError",
    "VersionNotFound",
    "parse_version",
    "validate_name",
    "validate_version",
]
