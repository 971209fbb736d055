"""gunicorn settings; `nns-serve` (service/web/serve.py) trains the default model, then runs it.

Workers, threads, bind and timeout come from the NNS_* settings. Access logs are JSON lines on
stdout. Metrics from all workers are aggregated through prometheus_client's multiprocess mode.

Slow clients (measured, docs/reliability.md, "Slow clients"): a sync worker reads a request and
writes its response on a blocking socket with no deadline of its own, so a client that sends
slowly, or never sends, holds the worker until NNS_TIMEOUT; then the arbiter kills and replaces
it, and `worker_abort` below logs which client held it and why. A gthread worker's thread waits
up to 5 s for a first byte, then blocks like a sync worker, and its main loop keeps the worker
alive, so nothing ever frees that thread. Neither is safe facing clients directly: run gunicorn
behind a buffering proxy (deploy/nginx/nns.conf, or the Kubernetes Ingress).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

import gunicorn
import orjson
from gunicorn.glogging import Logger

from service.settings import get_settings

_settings = get_settings()

bind = _settings.bind
workers = _settings.workers
threads = _settings.threads
# Measured (docs/benchmarks.md): sync workers balance load evenly; gthread with keep-alive
# could leave one worker idle. Threads > 1 switches to gthread for slow clients.
worker_class = "gthread" if threads > 1 else "sync"
timeout = _settings.timeout
graceful_timeout = 30
keepalive = 5
preload_app = False  # each worker builds its own app, registry and metrics state
accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level.lower()
limit_request_line = 4094
limit_request_fields = 100
# gunicorn 27's control socket defaults to $HOME/.gunicorn/gunicorn.ctl, shared by every gunicorn
# of the user (tests, several servers); nothing here uses it.
control_socket_disable = True

# Multiprocess metrics need one directory shared by the workers, emptied on every start.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="nns-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


class JsonAccessLogger(Logger):
    """Write gunicorn's own lines and one line per request as JSON objects."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        from service.logs import JsonFormatter

        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time) -> None:
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.syslog):
            return
        headers = dict(resp.headers) if hasattr(resp, "headers") else {}
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "level": "INFO",
            "logger": "gunicorn.access",
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "bytes": getattr(resp, "sent", None),
            "remote": environ.get("REMOTE_ADDR"),
            "request_id": headers.get("X-Request-ID") or headers.get("x-request-id"),
        }
        try:
            self.access_log.info(orjson.dumps(line).decode())
        except Exception:
            self.exception("access log failed")


logger_class = JsonAccessLogger


def on_starting(server) -> None:
    # Stale files from a previous run would add old counts to the new totals.
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# Why a worker timed out, told by where its thread was when the arbiter's SIGABRT arrived.
CAUSES = {
    "headers": "the client sent no complete request headers (an idle or slow client)",
    "body": "the client sent its request body too slowly",
    "response": "the client did not read the response",
    "application": "the application did not answer in time",
}
_GUNICORN = os.path.dirname(gunicorn.__file__) + os.sep
_WRITES = {"write", "sendfile", "write_file"}  # gunicorn.http.wsgi and gunicorn.util


def stuck_on(frame) -> dict | None:
    """Return the cause, client and request a worker thread was held by; None if it had none.

    `frame` is the thread's innermost frame; the first gunicorn frame outwards from it tells
    the step (reading, writing, or the app running), the worker's `handle` frame the client.
    """
    inner, found = None, {}
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(_GUNICORN) and code.co_name != "handle_abort":
            inner = inner or code
            if code.co_name == "handle_request":
                found["request"] = frame.f_locals.get("req")
                found["environ"] = frame.f_locals.get("environ") or {}
            elif code.co_name == "handle":
                local = frame.f_locals
                found["client"] = local.get("addr") or getattr(local.get("conn"), "client", None)
        frame = frame.f_back
    if "client" not in found:
        return None
    if inner.co_name in _WRITES:
        cause = "response"
    elif "request" not in found:
        cause = "headers"
    elif inner.co_name != "handle_request":  # inside gunicorn.http, below the app: the body
        cause = "body"
    else:
        cause = "application"
    req, client = found.get("request"), found["client"]
    stuck = {"cause": cause, "client": ":".join(map(str, client)) if client else "unix socket"}
    if req is not None:
        stuck.update(method=req.method, path=req.path)
    from service.web.logs import REQUEST_ID_KEY  # in the worker only: the master has no Flask

    request_id = found.get("environ", {}).get(REQUEST_ID_KEY)
    if request_id:
        stuck["request_id"] = request_id
    return stuck


def worker_abort(worker) -> None:
    # Runs in the worker, in the SIGABRT handler, before it exits: one line per held thread.
    held = [s for s in map(stuck_on, sys._current_frames().values()) if s]
    for stuck in held:
        cause = CAUSES[stuck["cause"]]
        worker.log.error(
            f"worker timeout after {worker.cfg.timeout} s (NNS_TIMEOUT): {cause}; the worker is "
            "replaced. Clients should reach gunicorn through a buffering proxy",
            extra=stuck,
        )
    if not held:
        worker.log.error(
            f"worker timeout after {worker.cfg.timeout} s (NNS_TIMEOUT) with no request in "
            "progress (a stalled machine?); the worker is replaced"
        )
