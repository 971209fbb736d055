"""Training over HTTP: queue a job from JSON or CSV, read its state, cancel it."""

from __future__ import annotations

import threading

from flask import Blueprint, current_app, has_app_context, request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from model_store import VersionNotFound

from ...data import datasets
from ...data.datasets import Dataset, DatasetError
from ...jobs.queue import JOB_ID, JobFinished, JobQueue, JobSpec, QueueUnavailable
from ...training import pipeline as training
from ...training.pipeline import Hyperparameters
from .. import metrics
from ..errors import ApiError, from_validation
from ..http import json_body, require_token, settings, store
from ..jsonio import json_response
from ..openapi import json_content, operation, path_param, ref
from ..schemas import ModelName, TrainRequest

bp = Blueprint("jobs", __name__)
_opening = threading.Lock()
QUERY_FIELDS = ("model", "target", "promote", "timeout")  # other CSV query keys: hyperparameters
MOONS_SAMPLES = 500  # datasets.builtin's default


class CsvQuery(BaseModel):
    """The query of a CSV training request; values arrive as strings."""

    model_config = ConfigDict(extra="forbid")

    model: ModelName
    target: str = Field(min_length=1)
    promote: bool = True
    timeout: float | None = Field(None, gt=0, allow_inf_nan=False)
    hyperparameters: Hyperparameters


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
        raise ApiError(503, message, code="queue_unavailable") from None


def _refuse(problems: list[tuple[list, str]]) -> ApiError:
    details = [{"loc": loc, "msg": msg, "type": "value_error"} for loc, msg in problems]
    return ApiError(422, "; ".join(dict.fromkeys(msg for _, msg in problems)), details=details)


def _check_limits(params: Hyperparameters, timeout: float | None, prefix: list, top: list) -> None:
    """Refuse sizes over the configured limits, all of them in one answer."""
    s, problems = settings(), []
    if params.epochs > s.max_epochs:
        problems.append(([*prefix, "epochs"], f"at most {s.max_epochs} epochs (NNS_MAX_EPOCHS)"))
    if len(params.hidden) > s.max_layers:
        msg = f"at most {s.max_layers} hidden layers (NNS_MAX_LAYERS)"
        problems.append(([*prefix, "hidden"], msg))
    for i, width in enumerate(params.hidden):
        if width > s.max_layer_width:
            msg = f"hidden layers are at most {s.max_layer_width} wide (NNS_MAX_LAYER_WIDTH)"
            problems.append(([*prefix, "hidden", i], msg))
    if timeout is not None and timeout > s.job_timeout:
        msg = f"the budget is at most {s.job_timeout:g} s (NNS_JOB_TIMEOUT)"
        problems.append(([*top, "timeout"], msg))
    if problems:
        raise _refuse(problems)


def _too_many_rows(n: int, loc: list) -> None:
    if n > settings().max_train_rows:
        limit = settings().max_train_rows
        raise _refuse([(loc, f"at most {limit} rows per job (NNS_MAX_TRAIN_ROWS)")])


def _check_data(model: str, data: Dataset, params: Hyperparameters, loc: list) -> None:
    """Refuse data the trainer would refuse: features of the model, classes for the loss."""
    try:
        training.check_features(store(), model, training.feature_specs(data))
        training.encode_target(data, params.loss)
    except DatasetError as exc:
        raise _refuse([(loc, str(exc))]) from None
    except VersionNotFound:
        msg = f"model {model!r} has no current version: promote one with PUT first"
        raise _refuse([(["model"], msg)]) from None


def _from_json(body: bytes) -> tuple[JobSpec, Dataset]:
    try:
        # Strict all through: the nested hyperparameters too, which are lax for CSV queries.
        req = TrainRequest.model_validate_json(body, strict=True)
    except ValidationError as exc:
        raise from_validation(exc) from None
    params = req.hyperparameters
    _check_limits(params, req.timeout, ["hyperparameters"], [])
    loc = ["rows"] if req.rows is not None else ["dataset"]
    try:
        if req.rows is not None:
            _too_many_rows(len(req.rows), loc)
            data = datasets.from_rows(req.rows, req.target)
        else:
            samples = req.samples or MOONS_SAMPLES
            _too_many_rows(samples if req.dataset == "moons" else 0, ["samples"])
            noise = 0.2 if req.noise is None else req.noise
            data = datasets.builtin(req.dataset, samples=samples, noise=noise, seed=params.seed)
    except DatasetError as exc:
        raise _refuse([(loc, str(exc))]) from None
    _check_data(req.model, data, params, loc)
    source = "request:rows" if req.rows is not None else f"dataset:{req.dataset}"
    timeout = req.timeout or settings().job_timeout
    return JobSpec(req.model, params, req.promote, source, timeout), data


def _from_csv() -> tuple[JobSpec, Dataset]:
    args = request.args.to_dict()
    hyper = {k: args.pop(k) for k in list(args) if k not in QUERY_FIELDS}
    if "hidden" in hyper:
        text = hyper["hidden"].strip()
        hyper["hidden"] = [] if text.lower() in ("", "none") else text.split(",")
    try:
        query = CsvQuery.model_validate({**args, "hyperparameters": hyper})
    except ValidationError as exc:
        err = from_validation(exc)
        for d in err.details:  # the query is flat: ["hyperparameters", "epochs"] -> ["query", ...]
            d["loc"] = ["query", *d["loc"][1:]] if d["loc"][:1] == ["hyperparameters"] else d["loc"]
        raise err from None
    params = query.hyperparameters
    _check_limits(params, query.timeout, ["query"], ["query"])
    try:
        text = request.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the CSV body is not UTF-8 text") from None
    try:
        data = datasets.from_csv_text(text, query.target, max_rows=settings().max_train_rows)
    except DatasetError as exc:
        raise _refuse([(["body"], str(exc))]) from None
    _check_data(query.model, data, params, ["body"])
    timeout = query.timeout or settings().job_timeout
    return JobSpec(query.model, params, query.promote, "request:csv", timeout), data


def _job_id(text: str) -> str:
    if not JOB_ID.match(text):  # checked before any lookup; the message does not echo it
        raise ApiError(404, "job not found")
    return text


def _found(record: dict | None) -> dict:
    if record is None:
        raise ApiError(404, "job not found")
    return record


@bp.post("/train")
def submit():
    require_token()
    spec, data = _from_csv() if request.mimetype == "text/csv" else _from_json(json_body())
    job = available(queue().submit, spec, data)
    location = {"Location": f"/train/jobs/{job['job_id']}"}
    return json_response({"job_id": job["job_id"], "status": "queued"}, 202, location)


@bp.get("/train/jobs/<job_id>")
def job_status(job_id: str):
    return json_response(_found(available(queue().get, _job_id(job_id))))


@bp.delete("/train/jobs/<job_id>")
def cancel_job(job_id: str):
    require_token()
    try:
        job = _found(available(queue().cancel, _job_id(job_id)))
    except JobFinished as exc:
        raise ApiError(409, str(exc)) from None
    return json_response(job, 200 if job["status"] == "cancelled" else 202)


class JobMetrics:
    """Job counts read from the queue's store at scrape time: every worker and trainer in them."""

    def collect(self):
        if not has_app_context():
            return
        try:
            jobs, pending = queue().counts(), queue().pending()
        except (ApiError, QueueUnavailable):
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

JOB_PARAM = path_param("job_id", {"type": "string", "pattern": "^[0-9a-f]{32}$"}, "Job id.")
CSV_QUERY = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
    for name, d in [
        ("model", "text/csv only: the model to train (required)."),
        ("target", "text/csv only: the CSV column to predict (required)."),
        ("promote", "text/csv only: true (default) or false."),
        ("timeout", "text/csv only: wall-clock budget in seconds."),
        *[(f, f"text/csv only: hyperparameter {f}.") for f in Hyperparameters.model_fields],
    ]
]
_submit = operation(
    "Start a training job",
    {202: ("Queued; the Location header names the job's URL.", ref("JobAccepted"))},
    (400, 401, 413, 415, 422, 503),
    body_content={
        **json_content(ref("TrainRequest")),
        "text/csv": {"schema": {"type": "string", "description": "CSV with a header row."}},
    },
    params=CSV_QUERY,
    secured=True,
    tag="training",
)
_submit["responses"]["202"]["headers"] = {
    "Location": {"description": "/train/jobs/{job_id}", "schema": {"type": "string"}}
}
OPENAPI = {
    "/train": {"post": _submit},
    "/train/jobs/{job_id}": {
        "get": operation(
            "Read a training job's state",
            {200: ("The job.", ref("JobStatus"))},
            (404, 503),
            params=[JOB_PARAM],
            tag="training",
        ),
        "delete": operation(
            "Cancel a queued or running job",
            {
                200: ("Cancelled (it was queued).", ref("JobStatus")),
                202: ("The trainer stops it at its next epoch.", ref("JobStatus")),
            },
            (401, 404, 409, 503),
            params=[JOB_PARAM],
            secured=True,
            tag="training",
        ),
    },
}
