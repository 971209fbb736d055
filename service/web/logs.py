"""JSON-lines logging on stdout, each line carrying the request id when there is one."""

from __future__ import annotations

import logging
import sys
import time

import orjson
from flask import has_request_context, request

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
REQUEST_ID_KEY = "nns.request_id"  # the environ key that carries the request id into Flask


def request_id() -> str:
    """Return the current request's id ("" outside a request)."""
    return request.environ.get(REQUEST_ID_KEY, "") if has_request_context() else ""


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object; `extra=` fields become keys."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if rid := request_id():
            line["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD:
                line[key] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(level: str) -> None:
    """Send the service's logs to stdout as JSON lines."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("service")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
