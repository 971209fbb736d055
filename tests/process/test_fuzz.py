"""Schemathesis fuzzes every operation of /openapi.json against real gunicorn and a trainer.

Positive and negative cases (coverage, fuzzing and stateful phases) with every check:
no 5xx, every response in the documented schema, status and content type, no schema-invalid
request accepted, secured operations refuse requests without the token. Seeded; in the suite
it ends after FUZZ_EXAMPLES cases per operation and phase (the same cases on every run, however
loaded the machine), and scripts/fuzz.sh runs it for FUZZ_MAX_TIME seconds with more examples.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sysconfig
from collections import Counter
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from model_store import ModelStore
from service.training.request import TrainRequest, body_components, body_schema
from service.web.app import create_app
from service.web.openapi import operations as app_operations
from tests.support.api import AUTH, TOKEN
from tests.support.harness import Gunicorn, http, start_trainer, wait_until
from tests.support.training import train

pytestmark = pytest.mark.process

# Small training limits: valid jobs the fuzzer submits finish in well under a second.
ENV = {
    "NNS_ADMIN_TOKEN": TOKEN,
    "NNS_MAX_EPOCHS": "30",
    "NNS_MAX_TRAIN_ROWS": "500",
    "NNS_MAX_LAYERS": "2",
    "NNS_MAX_LAYER_WIDTH": "16",
    "NNS_JOB_TIMEOUT": "20",
}
# 0: no time budget, the run ends after EXAMPLES per operation (the same cases for a seed);
# scripts/fuzz.sh gives it minutes, and the fuzzing and stateful phases draw until then.
MAX_TIME = int(os.environ.get("FUZZ_MAX_TIME", "0"))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
SEED = int(os.environ.get("FUZZ_SEED", "20240601"))
WORKERS = int(os.environ.get("FUZZ_WORKERS", "1"))
REPORT = os.environ.get("FUZZ_REPORT") == "1"  # print schemathesis' whole output

# Where the document cannot say what the service checks, the 4xx is right and "schema-valid
# request rejected" (positive_data_acceptance) is not a bug: the body of /models/{name}/predict
# is any model's row, but must be the named model's; V2 input names, shapes and the binary
# header length must agree with the model and the body; training rows must hold the target and
# the model's features, within the NNS_MAX_* limits. DELETE on a job cancels it and keeps its
# record readable, so "still available after DELETE" (use_after_free) is the contract.
SEMANTIC = [
    "/predict",  # a text/csv body must hold the model's features: any string is schema-valid
    "/models/{name}/predict",
    "/models/{name}/versions/{version}/predict",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/versions/{version}/infer",
    "/train",
    "/train/preview",
]
CONFIG = """\
seed = {seed}
workers = {workers}
{max_time}
suppress-health-check = ["too_slow", "data_too_large", "filter_too_much", "large_base_example"]

[generation]
mode = "all"
max-examples = {examples}
database = "none"

[auth.openapi.bearer]
bearer = "{token}"

[checks]
enabled = true

[dictionaries.models]
values = ["diabetes", "moons"]

[dictionaries.versions]
values = ["1", "2"]

[dictionaries.jobs]
values = {jobs}

[parameters]
"path.name" = {{ dictionary = "models", probability = 0.5 }}
"path.version" = {{ dictionary = "versions", probability = 0.5 }}
"path.job_id" = {{ dictionary = "jobs", probability = 0.7 }}

[[operations]]
include-path = {semantic}
checks.positive_data_acceptance.enabled = false

[[operations]]
include-path = "/train/jobs/{{job_id}}"
include-method = "DELETE"
checks.use_after_free.enabled = false
"""


def schemathesis() -> str:
    """Return the schemathesis command installed beside this Python (a venv's, in CI)."""
    return str(Path(sysconfig.get_path("scripts")) / "schemathesis")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz")
    store = ModelStore(data / "models")
    train(store)
    train(store)  # diabetes v2, current; v1 stays pinnable
    train(store, "moons", "moons", hidden=[8], epochs=100)
    api = Gunicorn(data, data / "gunicorn.log", workers=2, **ENV)
    trainer = start_trainer(data, data / "trainer.log", **ENV)
    try:
        api.wait_ready()
        yield data, api, trainer
    finally:
        trainer.stop()
        api.stop()


def job(api: Gunicorn, cancel: bool = False) -> str:
    """Submit a tiny job; wait for its end, or cancel it at once; return its id."""
    body = {"model": "fuzzed", "dataset": "xor", "hyperparameters": {"epochs": 5}}
    status, _, answer = http("POST", api.url + "/train", body, AUTH)
    assert status == 202, answer
    url = f"{api.url}/train/jobs/{answer['job_id']}"
    if cancel:
        http("DELETE", url, headers=AUTH)
    wait_until(lambda: http("GET", url)[2]["status"] != "queued", 30, what="the job to start")
    return answer["job_id"]


def run_schemathesis(data: Path, api: Gunicorn, jobs: list[str]) -> subprocess.CompletedProcess:
    config = data / "schemathesis.toml"
    config.write_text(
        CONFIG.format(
            seed=SEED,
            workers=WORKERS,
            max_time=f"max-time = {MAX_TIME}" if MAX_TIME else "",
            examples=EXAMPLES,
            token=TOKEN,
            jobs=json.dumps(jobs),
            semantic=json.dumps(SEMANTIC),
        )
    )
    argv = [schemathesis(), "--config-file", str(config), "--no-color", "run"]
    argv += ["--phases", "examples,coverage,fuzzing,stateful", "--output-truncate", "true"]
    argv += ["--report", "junit", "--report-dir", str(data / "report")]
    argv += [f"{api.url}/openapi.json"]
    return subprocess.run(
        argv, capture_output=True, text=True, cwd=data, timeout=(MAX_TIME or 300) + 120
    )


def summary(out: str) -> dict:
    """Read the counts from schemathesis' summary."""
    cases = re.search(r"Test cases:\s+(\d+) generated", out)
    tested = re.search(r"Tested:\s+(\d+)", out)
    selected = re.search(r"Selected:\s+(\d+)/(\d+)", out)
    return {
        "cases": int(cases.group(1)) if cases else 0,
        "tested": int(tested.group(1)) if tested else 0,
        "operations": int(selected.group(2)) if selected else -1,
        "last": out.strip().splitlines()[-1] if out.strip() else "",
    }


def fuzzed_operations(report_dir: Path) -> set[str]:
    """Return the operations ("GET /models") in schemathesis' JUnit report."""
    names = set()
    for xml in report_dir.glob("*.xml"):
        names |= set(re.findall(r'<testcase name="([A-Z]+ [^"]+)"', xml.read_text()))
    return names


def access_statuses(log: str) -> Counter:
    """Count the statuses in gunicorn's JSON access log: what the service really answered."""
    # Split on newlines only: paths may hold U+2028 and the like, which JSON leaves raw.
    lines = (line for line in log.split("\n") if '"gunicorn.access"' in line)
    return Counter(json.loads(line)["status"] for line in lines)


def test_schemathesis_finds_no_failure_in_any_operation(stack):
    data, api, trainer = stack
    jobs = [job(api), job(api, cancel=True)]
    result = run_schemathesis(data, api, jobs)
    (data / "schemathesis.out").write_text(result.stdout + result.stderr)
    found, statuses = summary(result.stdout), access_statuses(api.output())
    if REPORT:  # scripts/fuzz.sh runs pytest with -s: its report is what it prints
        print(
            f"\n{result.stdout}\nschemathesis (seed {SEED}, {MAX_TIME} s): {found['cases']} cases "
            f"on {found['tested']}/{found['operations']} operations; {found['last']}\n"
            f"gunicorn answered {sum(statuses.values())} requests: {dict(sorted(statuses.items()))}"
        )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    # Every route of the app's URL map, not only those the document lists, was fuzzed; the one
    # schemathesis leaves out is the URL it read the document from.
    app = create_app({"data_dir": data, "log_level": "WARNING"})
    routes = {f"{m.upper()} {p}" for p, m, _, _ in app_operations(app)} - {"GET /openapi.json"}
    assert fuzzed_operations(data / "report") == routes
    assert found["tested"] == found["operations"] == len(routes)
    assert found["cases"] >= 500
    assert not [s for s in statuses if s >= 500], statuses
    assert api.alive() and trainer.alive()
    assert "unhandled error" not in api.output()
    assert "Traceback" not in trainer.output()


# What the fuzzer found, pinned in process (fast): the document and the validators agree.


def test_bodies_the_document_admits_are_accepted(client, auth):
    row = {"smoking": 1.0, "obesity": 0.0, "exercise": 1}  # JSON Schema integers
    resp = client.post("/predict", json=row)
    assert resp.status_code == 200 and resp.get_json()["label"] in (0, 1)
    for wrong in (0.5, True, "1"):
        assert client.post("/predict", json={**row, "smoking": wrong}).status_code == 422
    resp = client.put("/models/diabetes/current", json={"version": 1.0}, headers=auth)
    assert resp.status_code == 200 and resp.get_json()["current_version"] == 1
    for wrong in (1.5, "1", True):
        resp = client.put("/models/diabetes/current", json={"version": wrong}, headers=auth)
        assert resp.status_code == 422


def test_the_train_schema_refuses_the_bodies_the_validator_refuses():
    local = "#/$defs/{model}"  # the document's body schema, with its components beside it
    schema = Draft202012Validator({**body_schema(local), "$defs": body_components(local)})
    rows = [{"x": 0, "y": 0}]
    bodies = [
        {},
        {"dataset": "xor"},
        {"rows": rows, "target": "y"},
        {"rows": rows},
        {"rows": rows, "target": "y", "dataset": "xor"},
        {"dataset": "xor", "target": "y"},
        {"dataset": "xor", "samples": 10},
        {"dataset": "moons", "samples": 10, "noise": 0.1},
        {"dataset": "moons", "rows": None, "target": None},
        {"rows": rows, "target": "y", "noise": 0.1},
    ]
    for body in bodies:
        body = {"model": "m", **body}
        try:
            TrainRequest.model_validate_json(json.dumps(body))
            accepted = True
        except ValidationError:
            accepted = False
        assert schema.is_valid(body) == accepted, body
    assert sum(schema.is_valid({"model": "m", **b}) for b in bodies) == 4


def test_json_hyperparameters_are_not_coerced_from_strings(client, auth):
    job = {"model": "m", "dataset": "xor"}
    for params, status in [
        ({"epochs": 5.0, "hidden": [3.0], "batch_size": 2.0}, 202),
        ({"epochs": "5"}, 422),
        ({"hidden": ["3"]}, 422),
        ({"seed": True}, 422),
        ({"batch_size": 0.0}, 422),
    ]:
        resp = client.post("/train", json={**job, "hyperparameters": params}, headers=auth)
        assert resp.status_code == status, (params, resp.json)
    csv = {**auth, "Content-Type": "text/csv"}  # query values are text: they still parse
    resp = client.post(
        "/train?model=m&target=y&epochs=5&hidden=3,2", data="a,y\n0,0\n1,1\n", headers=csv
    )
    assert resp.status_code == 202, resp.json
