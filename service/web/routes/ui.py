"""The dashboard: server-rendered pages of what the JSON API answers, and its few static files.

Each page is built from the same functions as the API route it shows (linked on the page), so
it is a view of the API, never a second model of it. Templates (service/web/ui/templates)
extend one base and are autoescaped; text from users' files reaches them only as data. Pages
carry a strict Content-Security-Policy: scripts and styles from this server only, none inline,
no request anywhere else. Actions that need the token run in ui.js, which sends it as the
Authorization header and nothing else.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from pathlib import Path

from flask import Blueprint, Response, redirect, render_template, request, url_for

from model_store import StoreError, validate_name

from ...errors import ModelUnavailable, NotFound, ServiceError, Unavailable
from ...jobs.state import TERMINAL
from ...training.spec import Hyperparameters
from .. import charts
from ..errors import error_response, from_store
from ..http import path_version, registry, settings, store
from ..openapi import describe
from ..schemas import JobStatus
from .health import readiness
from .jobs import JOBS_SHOWN, available, job_list, queue, valid_job_id
from .models import card, model_list, version_list

UI = Path(__file__).resolve().parents[1] / "ui"
bp = Blueprint("ui", __name__, template_folder=str(UI / "templates"))
STATIC = {p.name: p.read_bytes() for p in (UI / "static").iterdir() if p.is_file()}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE = {200: ("An HTML page.", {"type": "string"})}
NOT_FOUND_PAGE = {404: "Unknown model, version or job (an HTML page when HTML is accepted)."}
ASSETS = {kind: {"schema": {"type": "string"}} for kind in ("text/css", "image/svg+xml")}


@bp.app_template_filter("when")
def when(stamp: str | None) -> str:
    """Write an ISO 8601 UTC time as people read it: 2026-12-03 17:00 UTC."""
    if not stamp:
        return "–"
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return stamp
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp


@bp.errorhandler(ServiceError)
def _error(err: ServiceError):
    """A page for a browser (it asks for HTML); the API's error body for any other client."""
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) != "text/html":
        return error_response(err)
    return render_template("error.html", status=err.status, message=err.message), err.status


@bp.errorhandler(StoreError)
def _store_error(exc: StoreError):
    return _error(from_store(exc))


def page(template: str, **context) -> str:
    return render_template(template, **context)


@bp.get("/")
@describe(
    "The dashboard's address",
    {302: ("To the dashboard, /ui.", None)},
    headers={302: {"Location": {"description": "/ui", "schema": {"type": "string"}}}},
)
def root():
    return redirect(url_for("ui.home"))


@bp.get("/ui")
@describe("Dashboard: the models and the latest jobs", PAGE, media="text/html", tag="dashboard")
def home():
    models = model_list()
    rows = [_overview(m) for m in models.models]
    jobs, jobs_error = _jobs(5)
    return page("home.html", models=models, rows=rows, health=readiness(), jobs=jobs,
                jobs_error=jobs_error)  # fmt: skip


def _overview(summary) -> dict:
    """Return what the models table shows of one model: its served card and last training."""
    served = registry().current.get(summary.name)
    row = {"summary": summary, "task": None, "features": None, "trained": None}
    if served is not None:
        row |= {"task": served.task, "features": len(served.meta.features)}
    if summary.versions:
        try:
            row["trained"] = store().read_meta(summary.name, summary.versions[-1])["created_at"]
        except (StoreError, KeyError):
            row["trained"] = None
    return row


def _jobs(limit: int) -> tuple[list[JobStatus], str | None]:
    """Return the latest jobs, or none and why (the queue may be down; the rest of the page
    still shows)."""
    try:
        return job_list(limit).jobs, None
    except Unavailable as exc:
        return [], exc.message


@bp.get("/ui/models/<name>")
@describe("Dashboard: a model, its versions and its current version", PAGE, (404,),
          media="text/html", error_text=NOT_FOUND_PAGE, tag="dashboard")  # fmt: skip
def model_page(name: str):
    return _model(name, None)


@bp.get("/ui/models/<name>/versions/<version>")
@describe("Dashboard: a model with one of its versions", PAGE, (404,), media="text/html",
          error_text=NOT_FOUND_PAGE, tag="dashboard")  # fmt: skip
def version_page(name: str, version: str):
    return _model(name, path_version(version))


def _model(name: str, version: int | None):
    validate_name(name)
    versions = version_list(name)
    # The version CURRENT names now, even before this worker's next reload serves it.
    wanted = version or versions.current_version
    try:
        shown, card_error = card(name, wanted), None
    except (ServiceError, StoreError, ValueError, KeyError) as exc:  # a version that won't load
        if version is not None and isinstance(exc, ServiceError | StoreError):
            raise  # its own status: 404 for a version that does not exist
        if version is not None:
            raise ModelUnavailable(f"version {version} of {name!r} cannot be loaded") from None
        message = (
            exc.message if isinstance(exc, ServiceError)
            else str(exc) if isinstance(exc, StoreError) else "its model.json is not readable"
        )  # fmt: skip
        shown, card_error = _served(name), f"version {wanted} cannot be loaded: {message}"
    chart = charts.card_chart(shown.training.curve) if shown else None
    return page("model.html", name=name, versions=versions, card=shown, card_error=card_error,
                chart=chart, load_error=registry().errors.get(name))  # fmt: skip


def _served(name: str):
    """Return the card of the version this worker serves, None when it serves none."""
    try:
        return card(name, None)
    except ServiceError:
        return None


@bp.get("/ui/jobs")
@describe("Dashboard: the latest training jobs", PAGE, media="text/html", tag="dashboard")
def jobs_page():
    jobs, error = _jobs(JOBS_SHOWN)
    running = any(j.status not in TERMINAL for j in jobs)
    return page("jobs.html", jobs=jobs, jobs_error=error, running=running)


@bp.get("/ui/jobs/<job_id>")
@describe("Dashboard: one training job, its curve growing while it runs", PAGE, (404, 503),
          media="text/html", error_text=NOT_FOUND_PAGE, tag="dashboard")  # fmt: skip
def job_page(job_id: str):
    record = available(queue().get, valid_job_id(job_id))
    if record is None:
        raise NotFound("job not found")
    job = JobStatus.model_validate(record)
    return page("job.html", job=job, chart=charts.trail_chart(job.progress.trail))


@bp.get("/ui/train")
@describe("Dashboard: train from an uploaded CSV", PAGE, media="text/html", tag="dashboard")
def train_page():
    defaults = Hyperparameters()
    names = [m.name for m in model_list().models]
    return page("train.html", defaults=defaults, models=names, limits=settings())


@bp.get("/ui/static/<asset>")
@describe("A dashboard file (script, style, icon)", {200: ("The file.", {"type": "string"})},
          (404,), media="text/javascript", ok_content=ASSETS)  # fmt: skip
def asset(asset: str):
    if asset not in STATIC:
        raise NotFound("no such file")
    kind = mimetypes.guess_type(asset)[0] or "application/octet-stream"
    return Response(STATIC[asset], mimetype=kind)  # no-store, as every answer: a few kB
