"""Training over HTTP: queue a job from JSON or CSV, read its state, cancel it."""

from __future__ import annotations

import io
import threading

from flask import Blueprint, current_app, has_app_context, request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import ValidationError

from model_store import VersionNotFound

from ...data.csvstream import CsvPieces
from ...data.dataset import DatasetError
from ...errors import (
    BadRequest,
    Conflict,
    InvalidInput,
    NotFound,
    Unavailable,
    from_validation,
    invalid,
    problem,
)
from ...jobs.queue import JOB_ID, JobFinished, JobQueue, QueueUnavailable
from ...training import pipeline
from ...training.request import (
    TrainRequest,
    body_components,
    body_schema,
    csv_query_parameters,
    flat_loc,
    from_flat,
    load,
)
from ...training.spec import Limits
from .. import metrics
from ..auth import admin_required
from ..http import current_version, json_body, read_body, respond, settings, store
from ..openapi import REF, describe
from ..schemas import JobAccepted, JobList, JobStatus, TrainPreview

bp = Blueprint("jobs", __name__)
_opening = threading.Lock()


def queue() -> JobQueue:
    """Return this app's job queue, opened on first use."""
    ext = current_app.extensions
    if "nns.jobs" not in ext:
        with _opening:
            if "nns.jobs" not in ext:
                ext["nns.jobs"] = available(JobQueue.from_settings, settings())
    return ext["nns.jobs"]


def available(fn, *args):
    """Call the queue; 503 when its backend is down (predictions do not depend on it)."""
    try:
        return fn(*args)
    except QueueUnavailable as exc:
        message = f"training is unavailable: {exc}; predictions still work"
        raise Unavailable(message, code="queue_unavailable") from None


def _limits() -> Limits:
    return Limits.from_settings(settings())


def _invalid_spec(exc: ValidationError, flat: bool = False) -> InvalidInput:
    """Map a spec validation error; limits keep their own words as the message."""
    err = from_validation(exc)
    if flat:  # the CSV query is flat: ["hyperparameters", "epochs"] -> ["query", "epochs"]
        for d in err.details:
            if d["loc"][:1] == ["hyperparameters"]:
                d["loc"] = ["query", *flat_loc(d["loc"])]
    if err.details and all(d["type"] == "limit" for d in err.details):
        err.message = "; ".join(dict.fromkeys(d["msg"] for d in err.details))
    return err


def _checked(req: TrainRequest) -> pipeline.Prepared:
    """Refuse a request the trainer would refuse: run training's load and prepare steps."""
    loc = ["body"] if req.csv is not None else ["rows"] if req.rows is not None else ["dataset"]
    try:
        return pipeline.prepare(req, load(req, _limits()), store())
    except DatasetError as exc:
        raise invalid([problem(loc, str(exc))]) from None
    except VersionNotFound:
        msg = f"model {req.model!r} has no current version: promote one with PUT first"
        raise invalid([problem(["model"], msg)]) from None


def _from_json(body: bytes) -> TrainRequest:
    if request.args:  # they would be ignored: a surprise, so refused
        names = ", ".join(sorted(request.args))
        msg = f"query parameters ({names}) only apply to a text/csv body; put them in the JSON body"
        raise invalid([problem(["query"], msg)])
    context = {"limits": _limits(), "json_body": True}
    try:
        # Strict all through: the nested hyperparameters too, which are lax for CSV queries.
        req = TrainRequest.model_validate_json(body, strict=True, context=context)
    except ValidationError as exc:
        raise _invalid_spec(exc) from None
    return req


def _csv_text() -> str:
    if "dataset" in request.args:
        raise invalid([problem(["query", "dataset"], "a CSV body is the data: drop dataset")])
    try:
        return read_body(request.environ).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the CSV body is not UTF-8 text") from None


def _from_csv(text: str) -> TrainRequest:
    query = request.args.to_dict()
    if "target" not in query:
        raise invalid([problem(["target"], "the CSV query needs target: the column to predict")])
    try:
        return from_flat(query, _limits(), csv=text)
    except ValidationError as exc:
        raise _invalid_spec(exc, flat=True) from None


def _request() -> TrainRequest:
    """Return the request of a JSON body, or of a CSV body and its query."""
    if request.mimetype == "text/csv":
        return _from_csv(_csv_text())
    return _from_json(json_body())


def valid_job_id(text: str) -> str:
    if not JOB_ID.match(text):  # checked before any lookup; the message does not echo it
        raise NotFound("job not found")
    return text


def _found(record: dict | None) -> JobStatus:
    if record is None:
        raise NotFound("job not found")
    return JobStatus.model_validate(record)


LOCATION = {"Location": {"description": "/train/jobs/{job_id}", "schema": {"type": "string"}}}
CSV_BODY = {"text/csv": {"schema": {"type": "string", "description": "CSV with a header row."}}}
# POST /train and /train/preview take the same request: a JSON body, or a query and a CSV body.
TRAIN_REQUEST = {
    "body": body_schema(REF),
    "components": body_components(REF),
    "content": CSV_BODY,
    "params": tuple(csv_query_parameters()),
    "tag": "training",
}
TRAIN_ERRORS = (400, 413, 415, 422)


@bp.post("/train")
@admin_required
@describe(
    "Start a training job",
    {202: ("Queued; the Location header names the job's URL.", JobAccepted)},
    TRAIN_ERRORS,
    headers={202: LOCATION},
    **TRAIN_REQUEST,
)
def submit():
    req = _request()
    _checked(req)
    job = available(queue().submit, req)
    location = {"Location": f"/train/jobs/{job['job_id']}"}
    return respond(JobAccepted(job_id=job["job_id"], status="queued"), 202, location)


JOBS_SHOWN = 50
LIMIT = {
    "name": "limit",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": 200},
    "description": f"How many jobs, newest first ({JOBS_SHOWN}).",
}


def job_list(limit: int = JOBS_SHOWN) -> JobList:
    """Return the latest jobs, newest first (the dashboard's jobs page shows the same)."""
    return JobList.model_validate({"jobs": available(queue().recent, limit)})


@bp.get("/train/jobs")
@describe(
    "The latest training jobs, newest first",
    {200: ("Jobs.", JobList)},
    (422, 503),
    params=(LIMIT,),
    tag="training",
)
def list_jobs():
    text = request.args.get("limit", str(JOBS_SHOWN))
    if not text.isdigit() or not 1 <= int(text) <= 200:
        raise invalid([problem(["query", "limit"], "limit must be a whole number from 1 to 200")])
    return respond(job_list(int(text)))


@bp.post("/train/preview")
@admin_required
@describe(
    "Check a training request and show its columns, their kinds and the task; queue nothing",
    {200: ("What the job would train on.", TrainPreview)},
    TRAIN_ERRORS,
    **TRAIN_REQUEST,
)
def preview():
    if request.mimetype == "text/csv" and "target" not in request.args:
        return respond(columns_only(_csv_text()))
    req = _request()
    prepared = _checked(req)
    return respond(TrainPreview.of(req.model, prepared, current_version(req.model)))


def columns_only(text: str) -> TrainPreview:
    """Return a CSV's columns as training reads them, before a target is chosen; the rest of
    the query is checked as POST /train checks it."""
    try:  # any name stands for the target until one is chosen
        req = from_flat({**request.args.to_dict(), "target": "?"}, _limits(), csv=text)
    except ValidationError as exc:
        raise _invalid_spec(exc, flat=True) from None
    try:
        head = io.BytesIO(text.encode()).read
        layout = CsvPieces(head, sep=req.sep, piece_bytes=1 << 16).layout
    except DatasetError as exc:
        raise invalid([problem(["body"], str(exc))]) from None
    return TrainPreview(model=req.model, columns=layout.header)


@bp.get("/train/jobs/<job_id>")
@describe("Read a training job's state", {200: ("The job.", JobStatus)}, (404, 503), tag="training")
def job_status(job_id: str):
    return respond(_found(available(queue().get, valid_job_id(job_id))))


@bp.delete("/train/jobs/<job_id>")
@admin_required
@describe(
    "Cancel a queued or running job",
    {
        200: ("Cancelled (it was queued).", JobStatus),
        202: ("The trainer stops it at its next epoch.", JobStatus),
    },
    (404, 409),
    tag="training",
)
def cancel_job(job_id: str):
    try:
        job = _found(available(queue().cancel, valid_job_id(job_id)))
    except JobFinished as exc:
        raise Conflict(str(exc)) from None
    return respond(job, 200 if job.status == "cancelled" else 202)


class JobMetrics:
    """Job counts read from the queue's store at scrape time: every worker and trainer in them."""

    def collect(self):
        if not has_app_context():
            return
        try:
            jobs, pending = queue().counts(), queue().pending()
        except (Unavailable, QueueUnavailable):
            yield GaugeMetricFamily("nns_training_queue_up", "1 when the job queue answers.", 0)
            return
        family = CounterMetricFamily(
            "nns_training_jobs", "Training jobs queued, and ended by outcome.", labels=["outcome"]
        )
        for outcome, n in jobs.items():
            family.add_metric([outcome], n)
        yield family
        yield GaugeMetricFamily("nns_training_queue_length", "Jobs waiting for a trainer.", pending)
        yield GaugeMetricFamily("nns_training_queue_up", "1 when the job queue answers.", 1)


metrics.add_collector(JobMetrics())
