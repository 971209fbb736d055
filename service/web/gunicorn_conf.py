"""gunicorn settings; `nns-serve` (service/web/serve.py) trains the default model, then runs it.

Workers, threads, bind and timeout come from the NNS_* settings. Access logs are JSON lines on
stdout. Metrics from all workers are aggregated through prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

import orjson
from gunicorn.glogging import Logger

from service.settings import get_settings

_settings = get_settings()

bind = _settings.bind
workers = _settings.workers
threads = _settings.threads
# Measured (README, benchmarks): sync workers balance load evenly; gthread with keep-alive
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
