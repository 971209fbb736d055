#!/usr/bin/env python
"""Run the service locally: train the default model if needed, then gunicorn and the trainer.

Stops both on Ctrl-C or SIGTERM, and stops everything if either one exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.settings import get_settings  # noqa: E402
from service.training.bootstrap import ensure_default_model  # noqa: E402
from service.web.serve import gunicorn_argv  # noqa: E402

TRAINER = [sys.executable, "-m", "service.jobs.trainer"]


def main() -> int:
    settings = get_settings()
    version = ensure_default_model(settings)
    if version is not None:
        print(f"trained default model {settings.default_model!r} version {version}", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(gunicorn_argv(), cwd=ROOT, env=env),
        subprocess.Popen(TRAINER, cwd=ROOT, env=env),
    ]
    print(f"serving on http://{settings.bind} (Ctrl-C stops)", flush=True)

    def stop(signum=signal.SIGTERM, frame=None) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        status = os.wait()  # returns when either child exits
    except ChildProcessError:
        status = (0, 0)
    stop()
    for p in procs:
        try:
            p.wait(timeout=35)
        except subprocess.TimeoutExpired:
            p.kill()
    return 0 if os.waitstatus_to_exitcode(status[1]) in (0, -signal.SIGTERM) else 1


if __name__ == "__main__":
    sys.exit(main())
