"""The OpenAPI document serves client generators: openapi-python-client builds a client for every
operation from /openapi.json, and that client predicts, trains and reads the job against real
gunicorn and a real trainer."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from service.web.app import create_app
from service.web.openapi import operations
from tests.support.api import TOKEN
from tests.support.harness import Gunicorn, http, start_trainer, train_cli, wait_until

pytestmark = pytest.mark.process

PACKAGE = "nns_client"


def generate(doc: dict, out: Path) -> subprocess.CompletedProcess:
    spec, config = out / "openapi.json", out / "generator.yaml"
    spec.write_text(json.dumps(doc))
    config.write_text(f"project_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\n")
    generator = Path(sysconfig.get_path("scripts")) / "openapi-python-client"
    argv = [str(generator), "generate", "--path", str(spec), "--config", str(config)]
    argv += ["--output-path", str(out / PACKAGE), "--meta", "none"]
    return subprocess.run(argv, capture_output=True, text=True, cwd=out, timeout=120)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    data = tmp_path_factory.mktemp("client")
    train_cli(data / "models", "--epochs", "300")
    env = {"NNS_ADMIN_TOKEN": TOKEN}
    api = Gunicorn(data, data / "gunicorn.log", workers=1, **env)
    trainer = start_trainer(data, data / "trainer.log", **env)
    try:
        api.wait_ready()
        yield data, api
    finally:
        trainer.stop()
        api.stop()


def test_a_generated_client_predicts_trains_and_reads_the_job(stack):
    data, api = stack
    status, _, doc = http("GET", api.url + "/openapi.json")
    assert status == 200
    out = generate(doc, data)
    assert out.returncode == 0, out.stdout + out.stderr
    # Every operation got a function; CSV bodies are the only part a JSON client leaves out.
    skipped = [line for line in out.stdout.splitlines() if "will not be generated" in line]
    assert not skipped, out.stdout
    made = {p.stem for p in (data / PACKAGE / "api").rglob("*.py") if p.stem != "__init__"}
    app = create_app({"data_dir": data, "log_level": "WARNING"})
    expected = {
        re.sub(r"[^a-z0-9]+", "_", f"{method} {path}".lower()).strip("_")
        for path, method, _, _ in operations(app)
    }
    assert expected == made, expected ^ made

    sys.path.insert(0, str(data))
    try:
        client_mod = importlib.import_module(f"{PACKAGE}.client")
        predict = importlib.import_module(f"{PACKAGE}.api.default.post_predict")
        train = importlib.import_module(f"{PACKAGE}.api.training.post_train")
        job = importlib.import_module(f"{PACKAGE}.api.training.get_train_jobs_job_id")
        models = importlib.import_module(f"{PACKAGE}.models")
    finally:
        sys.path.remove(str(data))
    client = client_mod.AuthenticatedClient(base_url=api.url, token=TOKEN)

    answer = predict.sync(client=client, body=models.DiabetesRow(smoking=0, obesity=1, exercise=0))
    assert answer.model == "diabetes" and answer.label in (0, 1) and 0 <= answer.probability <= 1

    body = models.TrainOnDataset(
        model="diabetes",
        dataset=models.TrainOnDatasetDataset("diabetes"),
        hyperparameters=models.Hyperparameters(epochs=50),
        promote=models.TrainOnDatasetPromote("always"),
    )
    accepted = train.sync(client=client, body=body)
    assert accepted.status == "queued", accepted

    def finished():
        record = job.sync(job_id=accepted.job_id, client=client)
        return record if record.status in ("succeeded", "failed") else None

    record = wait_until(finished, 60, what="the job to finish")
    assert record.status == "succeeded", record.error
    assert record.result.version == 2 and record.result.promoted is True
