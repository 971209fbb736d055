"""Crash-safe filesystem primitives: fsync, atomic file replacement and advisory locks."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

# Every temporary entry starts with this prefix so listings can skip it and cleanup can find it.
TMP_PREFIX = ".tmp-"


def tmp_name(suffix: str = "") -> str:
    """Return a fresh, collision-free name for a temporary entry."""
    return f"{TMP_PREFIX}{uuid.uuid4().hex}{suffix}"


def scan(directory: Path) -> list[os.DirEntry[str]]:
    """Return the entries of directory, or an empty list if it does not exist."""
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries to disk so a rename or create inside it survives a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """Create path and missing parents, fsyncing each parent whose entries changed."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
        fsync_dir(directory.parent)


def write_file(path: Path, data: bytes, *, mtime_ns: int | None = None) -> None:
    """Write data to a new file and fsync it; optionally stamp its modification time."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if mtime_ns is not None:
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        os.fsync(fd)
    finally:
        os.close(fd)


def append_line(path: Path, line: str) -> None:
    """Append one line to a log file and fsync it; a crash can only cut the last line short."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        # Start on a fresh line in case an earlier append was cut short by a crash.
        os.write(fd, f"\n{line}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush an already written file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes, *, min_mtime_ns: int = 0) -> None:
    """Atomically replace path with data, so readers see either the old or the new content."""
    tmp = path.parent / tmp_name(f".{path.name}")
    # A strictly increasing mtime lets pollers detect two replacements within one clock tick.
    mtime_ns = max(time.time_ns(), min_mtime_ns)
    try:
        write_file(tmp, data, mtime_ns=mtime_ns)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on lock_path; the kernel releases it if the process dies."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        # Closing the descriptor drops the lock.
        os.close(fd)


def remove_stale_tmp(directory: Path, max_age_s: float) -> None:
    """Delete temporary entries in directory untouched for longer than max_age_s seconds."""
    cutoff = time.time() - max_age_s
    entries = scan(directory)
    for entry in entries:
        if not entry.name.startswith(TMP_PREFIX):
            continue
        path = Path(entry.path)
        with contextlib.suppress(OSError):
            if _newest_mtime(path) >= cutoff:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()


def _newest_mtime(path: Path) -> float:
    """Return the newest mtime of path or, for a directory, of it and its direct children."""
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        with os.scandir(path) as children:
            for child in children:
                # A publisher still streaming a large weights file keeps bumping its mtime.
                newest = max(newest, child.stat(follow_symlinks=False).st_mtime)
    return newest
