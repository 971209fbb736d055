"""The trainer's signs of life: one log line per queue outage, and a file for its healthcheck."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path

from ..settings import Settings

log = logging.getLogger("service.jobs.trainer")

BACKOFF_FIRST = 0.5  # seconds before the first retry of an unreachable queue; doubled each time


class Outage:
    """Log once when the job queue becomes unreachable and once when it is back; back off.

    Every part of the trainer that calls the queue reports here, so an outage is two lines
    whoever notices it, instead of a traceback per poll.
    """

    def __init__(self, longest: float) -> None:
        self.longest = longest
        self.since: float | None = None
        self.delay = BACKOFF_FIRST
        self._lock = threading.Lock()

    def failed(self, exc: Exception) -> float:
        """Note a failed call; return how long to wait before the next one."""
        with self._lock:
            if self.since is None:
                self.since, self.delay = time.monotonic(), BACKOFF_FIRST
                log.warning(
                    "job queue unreachable; retrying with backoff until it is back",
                    extra={"error": str(exc)},
                )
            else:
                self.delay = min(self.delay * 2, self.longest)
            return self.delay

    def ok(self) -> None:
        """Note a call that worked."""
        if self.since is None:  # the common case, without the lock
            return
        with self._lock:
            if self.since is not None:
                seconds = round(time.monotonic() - self.since, 1)
                log.warning("job queue reachable again", extra={"down_seconds": seconds})
                self.since = None

    @property
    def down(self) -> bool:
        return self.since is not None


class AliveFile:
    """A file holding the trainer's pid, touched by its loop and by each job's heartbeat."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def touch(self) -> None:
        try:
            os.utime(self.path)
        except FileNotFoundError:
            self.write()
        except OSError:  # a read-only or full /tmp must not stop training; --check will say
            pass

    def write(self) -> None:
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            tmp.write_text(f"{os.getpid()}\n")
            os.replace(tmp, self.path)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            if self.path.read_text().strip() == str(os.getpid()):
                self.path.unlink()


def check(settings: Settings) -> tuple[bool, str]:
    """Say whether a trainer on this machine is alive and its loop or job is moving."""
    path, limit = settings.trainer_alive_file, 2 * settings.job_stale_after
    try:
        pid = int(path.read_text().split()[0])
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False, f"unhealthy: no trainer has run here ({path} does not exist)"
    except (OSError, ValueError, IndexError) as exc:
        return False, f"unhealthy: cannot read {path}: {exc}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, f"unhealthy: trainer pid {pid} is not running (it left {path})"
    except PermissionError:
        pass  # alive, under another user
    if age > limit:
        return False, (
            f"unhealthy: trainer pid {pid} gave no sign of life for {age:.0f} s "
            f"(limit {limit:g} s, twice NNS_JOB_STALE_AFTER); its loop is stuck"
        )
    return True, f"healthy: trainer pid {pid}, last sign of life {age:.1f} s ago"
