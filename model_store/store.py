"""The ModelStore: versioned, crash-safe publishing and verified loading of model artifacts."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import durable
from .artifact import Artifact
from .errors import CorruptArtifact, ModelNotFound, StoreError, VersionNotFound
from .format import (
    HISTORY_FILE,
    LOCK_FILE,
    META_FILE,
    POINTER_FILE,
    WEIGHTS_FILE,
    check_arrays,
    check_attachments,
    decode_pointer,
    encode_document,
    encode_pointer,
    normalise_meta,
    read_document,
    read_weights,
    write_weights,
)
from .names import (
    MAX_VERSION,
    is_model_dirname,
    is_version_dirname,
    validate_name,
    validate_version,
)

# A rename onto an existing version fails with one of these; anything else is a real error.
_TAKEN_ERRNOS = frozenset({errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR})


class ModelStore:
    """Store model versions under root as <model>/<version>/{weights.npz,model.json} + CURRENT.

    Versions are immutable once published. A model published only with promote=False has no
    CURRENT file: current_version() and load(name) then raise VersionNotFound, while
    load(name, version) still works.
    """

    # Temporary directories untouched this long belong to crashed publishers.
    stale_tmp_seconds: float = 15 * 60
    max_publish_attempts: int = 1000

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def list_models(self) -> list[str]:
        """Return the sorted names of models that have at least one published version."""
        entries = durable.scan(self.root)
        return sorted(
            e.name for e in entries if is_model_dirname(e.name) and _version_numbers(Path(e.path))
        )

    def versions(self, name: str) -> list[int]:
        """Return the published versions of a model in ascending order."""
        found = _version_numbers(self._model_dir(name))
        if not found:
            raise ModelNotFound(f"model {name!r} not found")
        return found

    def current_version(self, name: str) -> int:
        """Return the version named by CURRENT, checking that it exists but not verifying it."""
        model_dir = self._model_dir(name)
        data = _read_whole(model_dir / POINTER_FILE)
        if data is None:
            self.versions(name)  # raises ModelNotFound when the model has no versions at all
            raise VersionNotFound(f"model {name!r} has no current version")
        version = decode_pointer(data)
        if version is None:
            raise CorruptArtifact(f"model {name!r}: CURRENT pointer is unreadable")
        if not (model_dir / str(version)).is_dir():
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
        model_dir = self._model_dir(name)
        # Validate everything before creating any directory so bad input leaves no trace.
        checked_arrays = check_arrays(arrays)
        extra = check_attachments(attachments or {})
        checked_meta = normalise_meta(meta)
        if extra:
            checked_meta["attachments"] = {
                k: hashlib.sha256(v).hexdigest() for k, v in extra.items()
            }
        durable.make_dirs(model_dir)
        durable.remove_stale_tmp(model_dir, self.stale_tmp_seconds)
        tmp_dir = model_dir / durable.tmp_name()
        tmp_dir.mkdir()
        try:
            # The slow part runs outside the lock; only numbering and renaming are serialised.
            weights_sha = write_weights(tmp_dir / WEIGHTS_FILE, checked_arrays)
            for filename, data in extra.items():
                durable.write_file(tmp_dir / filename, data)
            with durable.locked(model_dir / LOCK_FILE):
                version = self._move_into_place(name, tmp_dir, checked_meta, weights_sha)
                if promote:
                    self._write_pointer(model_dir, version)
        except BaseException:
            # After a successful rename tmp_dir no longer exists and this is a no-op.
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
        return version

    def load(self, name: str, version: int | None = None) -> Artifact:
        """Load and fully verify a version (the current one if version is None)."""
        version = self.current_version(name) if version is None else validate_version(version)
        version_dir = self._existing_version_dir(name, version)
        label = f"model {name!r} version {version}"
        doc = read_document(version_dir / META_FILE, name, version, label)
        arrays = read_weights(version_dir / WEIGHTS_FILE, doc["weights_sha256"], label)
        return Artifact(model=name, version=version, arrays=arrays, meta=doc)

    def read_meta(self, name: str, version: int) -> dict[str, Any]:
        """Return a version's verified model.json without reading its weights."""
        version = validate_version(version)
        version_dir = self._existing_version_dir(name, version)
        label = f"model {name!r} version {version}"
        return read_document(version_dir / META_FILE, name, version, label)

    def set_current(self, name: str, version: int) -> None:
        """Point CURRENT at version (promote or roll back) after verifying that it loads."""
        version = validate_version(version)
        self.load(name, version)
        model_dir = self._model_dir(name)
        with durable.locked(model_dir / LOCK_FILE):
            self._write_pointer(model_dir, version)

    def promoted_versions(self, name: str) -> list[int]:
        """Return the versions CURRENT has pointed at, most recent first, each once.

        Lets a reader that finds CURRENT broken fall back to the last version that was
        actually served rather than to the newest one, which may never have been promoted.
        """
        data = _read_whole(self._model_dir(name) / HISTORY_FILE) or b""
        seen: list[int] = []
        for line in reversed(data.decode("ascii", "replace").splitlines()):
            # A crash mid-append can leave a partial last line: skip anything malformed.
            if is_version_dirname(line) and int(line) not in seen:
                seen.append(int(line))
        return seen

    def current_mtime_ns(self, name: str) -> int | None:
        """Return CURRENT's mtime in ns for cheap change polling, or None if it is absent.

        The store keeps this strictly increasing across pointer changes, even within one
        clock tick, so a changed value always means CURRENT was rewritten.
        """
        try:
            return (self._model_dir(name) / POINTER_FILE).stat().st_mtime_ns
        except (FileNotFoundError, NotADirectoryError):
            return None

    def pointer_state(self) -> dict[str, int | None]:
        """Return {model: version in CURRENT or None} for all models, without any verification.

        None means the model has versions but no CURRENT, or CURRENT holds garbage. This
        costs one directory scan plus one small read per model.
        """
        entries = durable.scan(self.root)
        state: dict[str, int | None] = {}
        for entry in entries:
            if not is_model_dirname(entry.name):
                continue
            model_dir = Path(entry.path)
            data = _read_whole(model_dir / POINTER_FILE)
            if data is not None:
                state[entry.name] = decode_pointer(data)
            elif _version_numbers(model_dir):
                # Only unpromoted models pay for this extra scan.
                state[entry.name] = None
        return dict(sorted(state.items()))

    def _model_dir(self, name: str) -> Path:
        """Return the model directory, validating the name first so no raw input becomes a path."""
        return self.root / validate_name(name)

    def _existing_version_dir(self, name: str, version: int) -> Path:
        """Return an existing version directory or raise ModelNotFound / VersionNotFound."""
        model_dir = self._model_dir(name)
        version_dir = model_dir / str(validate_version(version))
        if version_dir.is_dir():
            return version_dir
        self.versions(name)  # raises ModelNotFound when the whole model is missing
        raise VersionNotFound(f"model {name!r} has no version {version}")

    def _move_into_place(
        self, name: str, tmp_dir: Path, meta: dict[str, Any], weights_sha: str
    ) -> int:
        """Number the staged version, write its model.json and rename it into place."""
        model_dir = tmp_dir.parent
        version = max(_version_numbers(model_dir), default=0) + 1
        for _ in range(self.max_publish_attempts):
            if version > MAX_VERSION:
                raise StoreError(f"model {name!r} has run out of version numbers")
            meta_path = tmp_dir / META_FILE
            meta_path.unlink(missing_ok=True)
            durable.write_file(meta_path, encode_document(meta, name, version, weights_sha))
            durable.fsync_dir(tmp_dir)
            try:
                os.rename(tmp_dir, model_dir / str(version))
            except OSError as exc:
                # Someone outside our lock took this number; model.json names the version,
                # so it is rewritten for the next candidate.
                if exc.errno not in _TAKEN_ERRNOS:
                    raise
                version = max([version, *_version_numbers(model_dir)]) + 1
                continue
            durable.fsync_dir(model_dir)
            return version
        raise StoreError(f"model {name!r}: could not allocate a version number")

    def _write_pointer(self, model_dir: Path, version: int) -> None:
        """Atomically rewrite CURRENT with an mtime newer than the one it replaces."""
        pointer = model_dir / POINTER_FILE
        try:
            previous = pointer.stat().st_mtime_ns
        except FileNotFoundError:
            previous = -1
        durable.replace_file(pointer, encode_pointer(version), min_mtime_ns=previous + 1)
        # After the switch, so the history never names a version CURRENT did not hold.
        durable.append_line(model_dir / HISTORY_FILE, str(version))


def _version_numbers(model_dir: Path) -> list[int]:
    """Return the sorted version numbers present in model_dir, ignoring temporaries."""
    entries = durable.scan(model_dir)
    return sorted(int(e.name) for e in entries if is_version_dirname(e.name) and e.is_dir())


def _read_whole(path: Path) -> bytes | None:
    """Read a whole file, however long; return None if it does not exist."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except IsADirectoryError:
        return b""
