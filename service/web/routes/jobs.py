"""Training over HTTP: queue a job from JSON or CSV, read its state, cancel it."""

from __future__ import annotations

import threading

from flask import Blueprint, current_app, has_app_context, request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import ValidationError

from model_store import VersionNotFound

from ...data import datasets
from ...data.columns import feature_specs
from ...data.csvfile import read_csv_text
from ...data.dataset import Dataset, DatasetError, from_rows
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
from ...jobs.queue import JOB_ID, JobFinished, JobQueue, JobSpec, QueueUnavailable
from ...training import pipeline
from ...training.spec import Hyperparameters, Limits, TrainRequest, TrainSpec, flat_loc, from_flat
from ...training.task import encode_target
from .. import metrics
from ..auth import admin_required
from ..http import json_body, read_body, respond, settings, store
from ..openapi import describe
from ..schemas import JobAccepted, JobStatus

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


def _check_data(spec: TrainSpec, data: Dataset, loc: list) -> Dataset:
    """Refuse data the trainer would refuse (column kinds, the model's features, the target);
    return it without the excluded columns."""
    try:
        if spec.exclude:
            unknown = [c for c in spec.exclude if c not in data.features]
            if unknown:
                found = ", ".join(repr(f) for f in [*data.features, data.target])
                raise DatasetError(
                    f"exclude names columns not in the data: {unknown}; columns: {found}"
                )
            data = data.without(spec.exclude)
        pipeline.check_features(store(), spec.model, feature_specs(data))
        encode_target(data.y, data.target, spec.task, spec.hyperparameters.loss)
    except DatasetError as exc:
        raise invalid([problem(loc, str(exc))]) from None
    except VersionNotFound:
        msg = f"model {spec.model!r} has no current version: promote one with PUT first"
        raise invalid([problem(["model"], msg)]) from None
    return data


def _job(spec: TrainSpec, source: str) -> JobSpec:
    timeout = spec.timeout or settings().job_timeout
    return JobSpec(
        spec.model, spec.hyperparameters, spec.promote, source, timeout, spec.task,
        tuple(spec.exclude),
    )  # fmt: skip


def _from_json(body: bytes) -> tuple[JobSpec, Dataset]:
    try:
        # Strict all through: the nested hyperparameters too, which are lax for CSV queries.
        req = TrainRequest.model_validate_json(body, strict=True, context={"limits": _limits()})
    except ValidationError as exc:
        raise _invalid_spec(exc) from None
    loc = ["rows"] if req.rows is not None else ["dataset"]
    try:
        if req.rows is not None:
            data = from_rows(req.rows, req.target)
        else:
            data = datasets.builtin(req.dataset, **req.moons, seed=req.hyperparameters.seed)
    except DatasetError as exc:
        raise invalid([problem(loc, str(exc))]) from None
    data = _check_data(req, data, loc)
    source = "request:rows" if req.rows is not None else f"dataset:{req.dataset}"
    return _job(req, source), data


def _from_csv() -> tuple[JobSpec, Dataset]:
    try:
        spec = from_flat(request.args.to_dict(), _limits())
    except ValidationError as exc:
        raise _invalid_spec(exc, flat=True) from None
    if spec.target is None:
        raise invalid([problem(["target"], "the CSV query needs target: the column to predict")])
    if spec.dataset is not None:
        raise invalid([problem(["query", "dataset"], "a CSV body is the data: drop dataset")])
    try:
        text = read_body(request.environ).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the CSV body is not UTF-8 text") from None
    options = {"sep": spec.sep, "max_rows": settings().max_train_rows}
    if spec.na is not None:
        options["na"] = tuple(spec.na)
    try:
        data = read_csv_text(text, spec.target, **options)
    except DatasetError as exc:
        raise invalid([problem(["body"], str(exc))]) from None
    return _job(spec, "request:csv"), _check_data(spec, data, ["body"])


def _job_id(text: str) -> str:
    if not JOB_ID.match(text):  # checked before any lookup; the message does not echo it
        raise NotFound("job not found")
    return text


def _found(record: dict | None) -> JobStatus:
    if record is None:
        raise NotFound("job not found")
    return JobStatus.model_validate(record)


CSV_QUERY = tuple(
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
    for name, d in [
        ("model", "text/csv only: the model to train (required)."),
        ("target", "text/csv only: the CSV column to predict (required)."),
        ("promote", "text/csv only: true (default) or false."),
        ("timeout", "text/csv only: wall-clock budget in seconds."),
        *[(f, f"text/csv only: hyperparameter {f}.") for f in Hyperparameters.model_fields],
    ]
)
LOCATION = {"Location": {"description": "/train/jobs/{job_id}", "schema": {"type": "string"}}}
CSV_BODY = {"text/csv": {"schema": {"type": "string", "description": "CSV with a header row."}}}


@bp.post("/train")
@admin_required
@describe(
    "Start a training job",
    {202: ("Queued; the Location header names the job's URL.", JobAccepted)},
    (400, 413, 415, 422),
    body=TrainRequest,
    content=CSV_BODY,
    params=CSV_QUERY,
    headers={202: LOCATION},
    tag="training",
)
def submit():
    spec, data = _from_csv() if request.mimetype == "text/csv" else _from_json(json_body())
    job = available(queue().submit, spec, data)
    location = {"Location": f"/train/jobs/{job['job_id']}"}
    return respond(JobAccepted(job_id=job["job_id"], status="queued"), 202, location)


@bp.get("/train/jobs/<job_id>")
@describe("Read a training job's state", {200: ("The job.", JobStatus)}, (404, 503), tag="training")
def job_status(job_id: str):
    return respond(_found(available(queue().get, _job_id(job_id))))


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
        job = _found(available(queue().cancel, _job_id(job_id)))
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
