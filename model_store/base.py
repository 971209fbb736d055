"""What every backend does the same way: checking input, verifying reads, naming errors."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .artifact import Artifact
from .errors import CorruptArtifact, InvalidName, ModelNotFound, StoreError, VersionNotFound
from .format import (
    META_FILE,
    WEIGHTS_FILE,
    check_arrays,
    check_attachments,
    decode_document,
    decode_weights,
    encode_weights,
    is_attachment_name,
    is_sha256,
    newest_first_once,
    normalise_meta,
    verify_sha256,
)
from .names import validate_name, validate_version


@dataclass(frozen=True)
class Staged:
    """A checked version waiting for its number: its files and its metadata."""

    weights: bytes  # npz
    weights_sha256: str
    attachments: dict[str, bytes]  # file name -> content
    meta: dict[str, Any]  # normalised, with the attachments' digests


class Published(NamedTuple):
    """What a publish did: the new version's number, and whether CURRENT was switched to it.

    `current` is False when promotion was not asked for, and on object storage when another
    publisher's newer version became current first: CURRENT never moves back to an older one.
    """

    version: int
    current: bool


class Pointer(NamedTuple):
    """What a model's CURRENT says, for change polling.

    version is None when the model has versions but no CURRENT, or CURRENT holds garbage.
    token changes whenever CURRENT is written, even with the same version (compare with ==).
    """

    version: int | None
    token: str | None


class Store(ABC):
    """A model store: versions immutable once published, CURRENT switched atomically.

    Versions are immutable once published. A model published only with promote=False has no
    CURRENT: current_version() and load(name) then raise VersionNotFound, while
    load(name, version) still works. Subclasses provide the storage primitives below.
    """

    location: str  # what open_store() was given: a directory or s3://bucket/prefix
    max_publish_attempts: int = 1000

    # -- Backend primitives ---------------------------------------------------------------

    @abstractmethod
    def list_models(self) -> list[str]:
        """Return the sorted names of models that have at least one published version."""

    @abstractmethod
    def pointers(self) -> dict[str, Pointer]:
        """Return {model: Pointer} for every model with versions or a CURRENT, unverified.

        This is the call to poll: its cost per model is stated by each backend.
        """

    @abstractmethod
    def current_token(self, name: str) -> str | None:
        """Return the change token of a model's CURRENT (as in pointers()), None if absent."""

    @abstractmethod
    def _version_numbers(self, name: str) -> list[int]:
        """Return the sorted published versions of a validated model name."""

    @abstractmethod
    def _has_version(self, name: str, version: int) -> bool:
        """Tell whether anything is stored for this version, complete or not."""

    @abstractmethod
    def _read_pointer_version(self, name: str) -> tuple[bool, int | None]:
        """Return (CURRENT exists, the version it names or None for garbage)."""

    @abstractmethod
    def _read_member(
        self, name: str, version: int, filename: str, sha256: str | None
    ) -> bytes | None:
        """Return one stored file of a version (its sha256 digest given but for model.json)."""

    @abstractmethod
    def _promotion_log(self, name: str) -> list[int]:
        """Return the versions CURRENT has held, oldest first, possibly with repeats."""

    @abstractmethod
    def _publish(self, name: str, staged: Staged, promote: bool) -> Published:
        """Store a checked version under the next free number; promote it if asked."""

    @abstractmethod
    def _switch(self, name: str, version: int) -> None:
        """Point CURRENT at a verified version and record the promotion."""

    # -- The public API, the same on every backend -----------------------------------------

    def versions(self, name: str) -> list[int]:
        """Return the published versions of a model in ascending order."""
        found = self._version_numbers(validate_name(name))
        if not found:
            raise ModelNotFound(f"model {name!r} not found")
        return found

    def current_version(self, name: str) -> int:
        """Return the version named by CURRENT, checking that it exists but not verifying it."""
        exists, version = self._read_pointer_version(validate_name(name))
        if not exists:
            self.versions(name)  # raises ModelNotFound when the model has no versions at all
            raise VersionNotFound(f"model {name!r} has no current version")
        if version is None:
            raise CorruptArtifact(f"model {name!r}: CURRENT pointer is unreadable")
        if not self._has_version(name, version):
            raise CorruptArtifact(
                f"model {name!r}: CURRENT points at version {version}, which does not exist"
            )
        return version

    def publish(
        self,
        name: str,
        arrays: dict[str, np.ndarray],
        meta: dict[str, Any],
        *,
        promote: bool = True,
        attachments: Mapping[str, bytes] | None = None,
    ) -> int:
        """Write a new immutable version, optionally make it current, and return its number.

        `attachments` are small informational files (a loss plot, say) stored beside the
        weights and listed with their sha256 in model.json; loading never reads them.
        """
        return self.publish_outcome(
            name, arrays, meta, promote=promote, attachments=attachments
        ).version

    def publish_outcome(
        self,
        name: str,
        arrays: dict[str, np.ndarray],
        meta: dict[str, Any],
        *,
        promote: bool = True,
        attachments: Mapping[str, bytes] | None = None,
    ) -> Published:
        """publish(), telling also whether the new version became current (see Published)."""
        validate_name(name)
        # Everything is checked before anything is written, so bad input leaves no trace.
        weights = encode_weights(check_arrays(arrays))
        extra = check_attachments(attachments or {})
        checked_meta = normalise_meta(meta)
        if extra:
            checked_meta["attachments"] = {
                k: hashlib.sha256(v).hexdigest() for k, v in extra.items()
            }
        staged = Staged(weights, hashlib.sha256(weights).hexdigest(), extra, checked_meta)
        return self._publish(name, staged, promote)

    def load(self, name: str, version: int | None = None) -> Artifact:
        """Load and fully verify a version (the current one if version is None)."""
        version = self.current_version(name) if version is None else validate_version(version)
        doc = self.read_meta(name, version)
        data = self._read_present(name, version, WEIGHTS_FILE, doc["weights_sha256"])
        arrays = decode_weights(data, doc["weights_sha256"], _label(name, version))
        return Artifact(model=name, version=version, arrays=arrays, meta=doc)

    def read_meta(self, name: str, version: int) -> dict[str, Any]:
        """Return a version's verified model.json without reading its weights."""
        version = validate_version(version)
        data = self._read_present(validate_name(name), version, META_FILE, None)
        return decode_document(data, name, version, _label(name, version))

    def read_attachment(self, name: str, version: int, filename: str) -> bytes:
        """Return an attachment of a version after checking it against model.json's sha256."""
        if not is_attachment_name(filename):
            raise InvalidName("invalid attachment name")
        doc = self.read_meta(name, version)
        listed = doc.get("attachments")
        sha256 = listed.get(filename) if isinstance(listed, dict) else None
        if not is_sha256(sha256):
            raise StoreError(f"{_label(name, version)} has no attachment {filename!r}")
        data = self._read_present(name, version, filename, sha256)
        verify_sha256(data, sha256, _label(name, version), filename)
        return data

    def set_current(self, name: str, version: int) -> None:
        """Point CURRENT at version (promote or roll back) after verifying that it loads."""
        version = validate_version(version)
        self.load(name, version)
        self._switch(name, version)

    def promoted_versions(self, name: str) -> list[int]:
        """Return the versions CURRENT has pointed at, most recent first, each once.

        Lets a reader that finds CURRENT broken fall back to the last version that was
        actually served rather than to the newest one, which may never have been promoted.
        """
        return newest_first_once(self._promotion_log(validate_name(name)))

    def pointer_state(self) -> dict[str, int | None]:
        """Return {model: version in CURRENT or None}, as pointers() without the tokens."""
        return {name: pointer.version for name, pointer in self.pointers().items()}

    def _read_present(self, name: str, version: int, filename: str, sha256: str | None) -> bytes:
        """Return a stored file or raise why it is not there: no model, no version, or lost."""
        data = self._read_member(name, version, filename, sha256)
        if data is not None:
            return data
        if self._has_version(name, version):
            raise CorruptArtifact(f"{_label(name, version)}: {filename} is missing")
        self.versions(name)  # raises ModelNotFound when the whole model is missing
        raise VersionNotFound(f"model {name!r} has no version {version}")


def _label(name: str, version: int) -> str:
    """Name a version in error messages."""
    return f"model {name!r} version {version}"
