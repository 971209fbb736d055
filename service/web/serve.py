"""`nns-serve`: publish the default model if the store lacks it, then exec gunicorn.

Training happens here, before gunicorn starts, so the gunicorn master stays a small process
that only forks and watches its workers; `--wait` in compose still returns only once the
default model is served, because the port opens after this step.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys

from ..data.datasets import BUILTIN
from ..settings import get_settings
from ..training.bootstrap import DataDirNotWritable, ensure_default_model
from . import logs

log = logging.getLogger("service.web.serve")

GUNICORN = ["-m", "gunicorn", "-c", "python:service.web.gunicorn_conf"]
APP = "service.web.app:create_app()"


def gunicorn_argv(*extra: str) -> list[str]:
    """Return the command line that serves the app with the service's gunicorn settings."""
    return [sys.executable, *GUNICORN, *extra, APP]


def bind_error(bind: str) -> str | None:
    """Return why gunicorn could not listen on `bind` (NNS_BIND) right now, or None if it can.

    Binds a throwaway socket the way gunicorn does (SO_REUSEADDR), so a port in TIME_WAIT
    counts as free and one with a listener as taken. Unix sockets are left to gunicorn.
    """
    if bind.startswith(("unix:", "fd://")):
        return None
    host, _, port = bind.rpartition(":") if ":" in bind else (bind, ":", "8000")  # as gunicorn
    host = host.strip("[]") or "0.0.0.0"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = "address already in use; stop what uses it or set NNS_BIND to another address"
        else:
            reason = exc.strerror or str(exc)
        return f"cannot listen on {bind} (NNS_BIND): {reason}"
    except ValueError:
        return f"cannot listen on {bind} (NNS_BIND): not HOST:PORT"
    return None


def main(argv: list[str] | None = None) -> int:
    """Bootstrap the store, then replace this process with gunicorn (extra args pass through).

    A data directory this user cannot write, or a taken NNS_BIND, is one JSON log line and
    exit status 1, before any training.
    """
    settings = get_settings()
    logs.configure(settings.log_level)
    extra = sys.argv[1:] if argv is None else argv
    rebinds = any(a.startswith(("-b", "--bind")) for a in extra)  # gunicorn checks that one
    problem = None if rebinds else bind_error(settings.bind)
    if problem:
        log.error(problem, extra={"bind": settings.bind})
        return 1
    if settings.default_model in BUILTIN:  # other names must be trained with nns-train first
        try:
            version = ensure_default_model(settings)
        except DataDirNotWritable as exc:
            log.error(str(exc), extra={"path": exc.path, "uid": exc.uid, "gid": exc.gid})
            return 1
        if version is not None:
            log.info("trained the default model", extra={"model": settings.default_model})
    args = gunicorn_argv(*extra)
    os.execv(args[0], args)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
