"""The filesystem backend: versions renamed into place, CURRENT replaced by an atomic rename."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from . import durable
from .base import Pointer, Published, Staged, Store
from .errors import StoreError
from .format import (
    HISTORY_FILE,
    LOCK_FILE,
    META_FILE,
    POINTER_FILE,
    WEIGHTS_FILE,
    decode_history,
    decode_pointer,
    encode_document,
    encode_pointer,
)
from .names import MAX_VERSION, is_model_dirname, is_version_dirname, validate_name

# A rename onto an existing version fails with one of these; anything else is a real error.
_TAKEN_ERRNOS = frozenset({errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR})


class ModelStore(Store):
    """Store model versions under root as <model>/<version>/{weights.npz,model.json} + CURRENT.

    Publishers on one machine (threads or processes) are serialised by an flock per model
    for numbering and promotion; the slow writing happens outside the lock.
    """

    # Temporary directories untouched this long belong to crashed publishers.
    stale_tmp_seconds: float = 15 * 60

    def __init__(self, root: str | os.PathLike[str]) -> None:
        if os.fspath(root).startswith("s3://"):
            # Path() would quietly turn it into a local directory named "s3:".
            raise StoreError("an s3:// location is opened with open_store(), not ModelStore()")
        self.root = Path(root)
        self.location = str(self.root)

    def list_models(self) -> list[str]:
        """Return the sorted names of models that have at least one published version."""
        entries = durable.scan(self.root)
        return sorted(
            e.name for e in entries if is_model_dirname(e.name) and _version_numbers(Path(e.path))
        )

    def pointers(self) -> dict[str, Pointer]:
        """Return {model: Pointer}; the token is CURRENT's mtime in ns.

        Costs one directory scan plus one small read per model (and a scan of the model's
        directory for models that were never promoted).
        """
        state: dict[str, Pointer] = {}
        for entry in durable.scan(self.root):
            if not is_model_dirname(entry.name):
                continue
            model_dir = Path(entry.path)
            found = _read_file(model_dir / POINTER_FILE)
            if found is not None:
                state[entry.name] = Pointer(decode_pointer(found[0]), str(found[1]))
            elif _version_numbers(model_dir):
                state[entry.name] = Pointer(None, None)
        return dict(sorted(state.items()))

    def current_token(self, name: str) -> str | None:
        """Return CURRENT's mtime in ns as text, or None if it is absent."""
        mtime_ns = self.current_mtime_ns(name)
        return None if mtime_ns is None else str(mtime_ns)

    def current_mtime_ns(self, name: str) -> int | None:
        """Return CURRENT's mtime in ns for cheap change polling, or None if it is absent.

        The store keeps this strictly increasing across pointer changes, even within one
        clock tick, so a changed value always means CURRENT was rewritten.
        """
        try:
            return (self._model_dir(name) / POINTER_FILE).stat().st_mtime_ns
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _model_dir(self, name: str) -> Path:
        """Return the model directory, validating the name first so no raw input becomes a path."""
        return self.root / validate_name(name)

    def _version_numbers(self, name: str) -> list[int]:
        return _version_numbers(self._model_dir(name))

    def _has_version(self, name: str, version: int) -> bool:
        return (self._model_dir(name) / str(version)).is_dir()

    def _read_pointer_version(self, name: str) -> tuple[bool, int | None]:
        found = _read_file(self._model_dir(name) / POINTER_FILE)
        return (False, None) if found is None else (True, decode_pointer(found[0]))

    def _read_member(
        self, name: str, version: int, filename: str, sha256: str | None
    ) -> bytes | None:
        try:
            return (self._model_dir(name) / str(version) / filename).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def _promotion_log(self, name: str) -> list[int]:
        found = _read_file(self._model_dir(name) / HISTORY_FILE)
        return [] if found is None else decode_history(found[0])

    def _publish(self, name: str, staged: Staged, promote: bool) -> Published:
        model_dir = self._model_dir(name)
        durable.make_dirs(model_dir)
        durable.remove_stale_tmp(model_dir, self.stale_tmp_seconds)
        tmp_dir = model_dir / durable.tmp_name()
        tmp_dir.mkdir()
        try:
            # The slow part runs outside the lock; only numbering and renaming are serialised.
            durable.write_file(tmp_dir / WEIGHTS_FILE, staged.weights)
            for filename, data in staged.attachments.items():
                durable.write_file(tmp_dir / filename, data)
            with durable.locked(model_dir / LOCK_FILE):
                version = self._move_into_place(name, tmp_dir, staged)
                if promote:
                    self._write_pointer(model_dir, version)
        except BaseException:
            # After a successful rename tmp_dir no longer exists and this is a no-op.
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
        # Numbering and switching share one lock, so a promoted version is always switched to.
        return Published(version, promote)

    def _switch(self, name: str, version: int) -> None:
        model_dir = self._model_dir(name)
        with durable.locked(model_dir / LOCK_FILE):
            self._write_pointer(model_dir, version)

    def _move_into_place(self, name: str, tmp_dir: Path, staged: Staged) -> int:
        """Number the staged version, write its model.json and rename it into place."""
        model_dir = tmp_dir.parent
        version = max(_version_numbers(model_dir), default=0) + 1
        for _ in range(self.max_publish_attempts):
            if version > MAX_VERSION:
                raise StoreError(f"model {name!r} has run out of version numbers")
            meta_path = tmp_dir / META_FILE
            meta_path.unlink(missing_ok=True)
            document = encode_document(staged.meta, name, version, staged.weights_sha256)
            durable.write_file(meta_path, document)
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


def _read_file(path: Path) -> tuple[bytes, int] | None:
    """Read a whole file, however long, with its mtime in ns; None if it does not exist."""
    try:
        with open(path, "rb") as fh:
            return fh.read(), os.fstat(fh.fileno()).st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return None
    except IsADirectoryError:
        return b"", 0
