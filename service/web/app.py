"""The application factory: `gunicorn 'service.web.app:create_app()'`."""

from __future__ import annotations

import itertools
import logging
import os
import re
import time

from flask import Flask, Request
from werkzeug.routing import Rule

from model_store import open_store

from ..serving.registry import Registry
from ..settings import Settings, get_settings
from . import errors, logs, metrics
from .logs import REQUEST_ID_KEY
from .routes import BLUEPRINTS
from .routes.predict import FastPredict

log = logging.getLogger("service.web.app")
RULE_KEY = "nns.rule"  # the environ key that carries the matched route out of Flask
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def create_app(config: Settings | dict | None = None) -> Flask:
    """Build the app; `config` overrides the environment (a Settings or a dict of fields)."""
    if isinstance(config, dict):
        config = Settings(**config)
    settings = config or get_settings()
    logs.configure(settings.log_level)
    app = Flask(__name__, static_folder=None)
    app.request_class = _Request
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, DEBUG=False, TESTING=False)
    app.json.sort_keys = False

    store = open_store(settings.store_root)
    registry = Registry(
        store, max_batch=settings.max_batch, reload_interval=settings.reload_interval
    )
    registry.on_load_failure = lambda model: metrics.LOAD_FAILURES.labels(model).inc()
    registry.refresh()  # before the first request: a worker is ready once it has loaded
    registry.watch()  # gunicorn builds the app in each worker, after the fork
    app.extensions.update(
        {
            "nns.settings": settings,
            "nns.registry": registry,
        }
    )
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    errors.register(app)
    app.wsgi_app = _Bookkeeping(app.wsgi_app, registry, FastPredict(app))
    log.info(
        "app ready",
        extra={
            "store": str(settings.store_root),
            "models": sorted(registry.current),
            # Operators see at once whether /train and promotion work (NNS_ADMIN_TOKEN).
            "admin_endpoints": "on" if settings.token else "off: set NNS_ADMIN_TOKEN",
        },
    )
    return app


class _Request(Request):
    """Flask's request, leaving the matched route in the environ for the request metrics."""

    _rule: Rule | None = None

    @property
    def url_rule(self) -> Rule | None:
        return self._rule

    @url_rule.setter
    def url_rule(self, rule: Rule | None) -> None:
        self._rule = rule
        self.environ[RULE_KEY] = rule.rule if rule is not None else "unmatched"


class _Bookkeeping:
    """Wrap the WSGI app: watcher check, request id, security headers and request metrics.

    Outside Flask's hooks this costs less per request (no Headers object, no context lookups,
    no hook dispatch): every microsecond here is a share of a single-row prediction.
    """

    def __init__(self, wsgi_app, registry: Registry, fast: FastPredict | None = None) -> None:
        self.wsgi_app, self.registry, self.fast = wsgi_app, registry, fast
        # Request ids in UUID4 form: 60 random bits per process, then the RFC 4122 variant
        # and a counter; unique across workers and restarts without a system call each.
        random = os.urandom(8).hex()
        self._prefix = f"{random[:12]}4{random[13:]}"
        self._count = itertools.count(1 << 63)  # the variant bits: 10

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        # Never the store itself: the watcher thread looks at it and swaps new versions in.
        self.registry.watch()
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if REQUEST_ID.match(given) else f"{self._prefix}{next(self._count):016x}"
        environ[REQUEST_ID_KEY] = request_id
        status = []

        def start(line, headers, exc_info=None):
            status.append(line.split(" ", 1)[0])
            headers += [("X-Request-ID", request_id), ("X-Content-Type-Options", "nosniff")]
            if not any(name.lower() == "cache-control" for name, _ in headers):
                headers.append(("Cache-Control", "no-store"))
            return start_response(line, headers, exc_info)

        fast = self.fast(environ) if self.fast is not None else None
        if fast is not None:
            rule, answer = fast
            json = [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))]
            start("200 OK", json)
            body = [answer]
        else:
            body = self.wsgi_app(environ, start)
            rule = environ.get(RULE_KEY, "unmatched")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        metrics.REQUESTS.labels(rule, method, status[-1] if status else "500").inc()
        metrics.LATENCY.labels(rule).observe(time.perf_counter() - started)
        return body
