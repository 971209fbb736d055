"""Exceptions raised by the model store; every message is safe to show to a client."""

from __future__ import annotations


class StoreError(Exception):
    """Signal any model store failure with a client-safe message (no filesystem paths)."""


class InvalidName(StoreError):
    """Signal a model name or version that fails validation."""


class InvalidMetadata(StoreError, TypeError):
    """Signal metadata or arrays that cannot be stored; also a TypeError for generic callers."""


class ModelNotFound(StoreError):
    """Signal that a model has no published version."""


class VersionNotFound(StoreError):
    """Signal that a requested version (or the current pointer) does not exist."""


class CorruptArtifact(StoreError):
    """Signal an artifact or pointer on disk that fails verification."""
