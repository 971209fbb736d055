#!/usr/bin/env python
"""Run the service locally: train the default model if needed, then gunicorn and the trainer.

Says "serving on ..." only once the API answers HTTP. A taken NNS_BIND or an unwritable
NNS_DATA_DIR is one line on stderr and exit status 1. Stops both processes on Ctrl-C or
SIGTERM, and stops everything if either one exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.settings import get_settings  # noqa: E402
from service.training.bootstrap import DataDirNotWritable, ensure_default_model  # noqa: E402
from service.web.serve import bind_error, gunicorn_argv  # noqa: E402

TRAINER = [sys.executable, "-m", "service.jobs.trainer"]
STARTUP_TIMEOUT = 60.0  # seconds for gunicorn to answer its first request


def local_url(bind: str) -> str:
    """Return the URL a client on this machine uses for a gunicorn bind address."""
    host, _, port = bind.rpartition(":")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)
    return f"http://{host}:{port}"


def answers(url: str) -> bool:
    """Return True once anything answers HTTP at `url` (any status counts)."""
    try:
        with urllib.request.urlopen(url + "/health/live", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def say(line: str, stream=sys.stdout) -> None:
    """Write one whole line at once: gunicorn's log lines share this stream."""
    stream.write(line + "\n")  # print() may write the text and its newline separately
    stream.flush()


def fail(message: str) -> int:
    say(f"serve: {message}", sys.stderr)
    return 1


def main() -> int:
    os.environ.setdefault("NNS_DEFAULT_MODEL", "diabetes")  # the product's demo model
    settings = get_settings()
    problem = bind_error(settings.bind)
    if problem:
        return fail(problem)
    try:
        version = ensure_default_model(settings)
    except DataDirNotWritable as exc:
        return fail(str(exc))
    if version is not None:
        say(f"trained default model {settings.default_model!r} version {version}")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    gunicorn = subprocess.Popen(gunicorn_argv(), cwd=ROOT, env=env)
    procs = [gunicorn, subprocess.Popen(TRAINER, cwd=ROOT, env=env)]
    stopping = False

    def stop(signum=signal.SIGTERM, frame=None) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    url, problem = local_url(settings.bind), None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not stopping and not answers(url):
        if gunicorn.poll() is not None:
            problem = f"gunicorn exited with status {gunicorn.returncode} before it answered"
        elif time.monotonic() > deadline:
            problem = f"gunicorn did not answer within {STARTUP_TIMEOUT:g} s"
        if problem:
            stop()
            break
        time.sleep(0.1)
    else:
        if not stopping:
            say(f"serving on {url} (Ctrl-C stops)")
    status = (0, 0)
    if not problem:
        with contextlib.suppress(ChildProcessError):
            status = os.wait()  # returns when either child exits
    stop()
    for p in procs:
        try:
            p.wait(timeout=35)
        except subprocess.TimeoutExpired:
            p.kill()
    if problem:
        return fail(f"{problem} on {settings.bind} (NNS_BIND)")
    return 0 if os.waitstatus_to_exitcode(status[1]) in (0, -signal.SIGTERM) else 1


if __name__ == "__main__":
    sys.exit(main())
