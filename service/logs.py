"""JSON-lines logging on stdout for every process of the service (API workers, the trainer,
nns-serve): one JSON object a line, `extra=` fields as keys.

A process may add context to every line with `add_context` (the web app adds the request id).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

import orjson

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_CONTEXT: list[Callable[[], dict]] = []  # each returns keys to add to the current line


def add_context(provider: Callable[[], dict]) -> None:
    """Add keys from `provider()` to every line logged (once per provider)."""
    if provider not in _CONTEXT:
        _CONTEXT.append(provider)


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
        for provider in _CONTEXT:
            line.update(provider())
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
