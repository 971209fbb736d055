"""The application factory: `gunicorn 'service.app:create_app()'`."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, current_app, g, request

from model_store import ModelStore

from . import errors, logs, metrics
from .registry import Registry
from .routes import BLUEPRINTS, OPENAPI_PATHS
from .settings import Settings, get_settings

log = logging.getLogger("service.app")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def create_app(config: Settings | dict | None = None) -> Flask:
    """Build the app; `config` overrides the environment (a Settings or a dict of fields)."""
    if isinstance(config, dict):
        config = Settings(**config)
    settings = config or get_settings()
    logs.configure(settings.log_level)
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, DEBUG=False, TESTING=False)
    app.json.sort_keys = False

    store = ModelStore(settings.store_root)
    registry = Registry(
        store, max_batch=settings.max_batch, reload_interval=settings.reload_interval
    )
    registry.on_load_failure = lambda model: metrics.LOAD_FAILURES.labels(model).inc()
    registry.refresh()
    app.extensions.update(
        {
            "nns.settings": settings,
            "nns.registry": registry,
            "nns.openapi_paths": list(OPENAPI_PATHS),
        }
    )
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    errors.register(app)
    app.before_request(_before)
    app.after_request(_after)
    log.info(
        "app ready",
        extra={"store": str(settings.store_root), "models": sorted(registry.current)},
    )
    return app


# The hooks run on every request, so they read the request and g through one lookup each.
def _before() -> None:
    ctx = g._get_current_object()
    ctx.started = time.perf_counter()
    given = request.environ.get("HTTP_X_REQUEST_ID", "")
    ctx.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
    # The swap to a new CURRENT happens here, between requests, never during one.
    current_app.extensions["nns.registry"].maybe_refresh()


def _after(response):
    ctx, req = g._get_current_object(), request._get_current_object()
    headers = response.headers
    headers["X-Request-ID"] = ctx.get("request_id", "")
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Cache-Control", "no-store")
    rule = req.url_rule.rule if req.url_rule else "unmatched"
    metrics.REQUESTS.labels(rule, req.method, str(response.status_code)).inc()
    started = ctx.get("started")
    if started is not None:
        metrics.LATENCY.labels(rule).observe(time.perf_counter() - started)
    return response
