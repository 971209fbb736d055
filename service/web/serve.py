"""`nns-serve`: publish the default model if the store lacks it, then exec gunicorn.

Training happens here, before gunicorn starts, so the gunicorn master stays a small process
that only forks and watches its workers; `--wait` in compose still returns only once the
default model is served, because the port opens after this step.
"""

from __future__ import annotations

import logging
import os
import sys

from ..data.datasets import BUILTIN
from ..settings import get_settings
from ..training.bootstrap import ensure_default_model
from . import logs

log = logging.getLogger("service.web.serve")

GUNICORN = ["-m", "gunicorn", "-c", "python:service.web.gunicorn_conf"]
APP = "service.web.app:create_app()"


def gunicorn_argv(*extra: str) -> list[str]:
    """Return the command line that serves the app with the service's gunicorn settings."""
    return [sys.executable, *GUNICORN, *extra, APP]


def main(argv: list[str] | None = None) -> int:
    """Bootstrap the store, then replace this process with gunicorn (extra args pass through)."""
    settings = get_settings()
    logs.configure(settings.log_level)
    if settings.default_model in BUILTIN:  # other names must be trained with nns-train first
        version = ensure_default_model(settings)
        if version is not None:
            log.info("trained the default model", extra={"model": settings.default_model})
    args = gunicorn_argv(*(sys.argv[1:] if argv is None else argv))
    os.execv(args[0], args)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
