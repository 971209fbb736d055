"""`nns-trainer --check`, the containers' healthcheck every 10 s, stays light: it answers from
the trainer's alive file without importing the trainer, its queue, NumPy or Arrow."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.harness import ROOT

PROBE = """\
import json, sys
from service.jobs.command import main
code = main(["--check"])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_the_healthcheck_imports_neither_the_trainer_nor_numpy(tmp_path):
    env = {"NNS_DATA_DIR": str(tmp_path), "NNS_TRAINER_ALIVE_FILE": str(tmp_path / "alive")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    said, answer = out.stdout.splitlines()
    assert said.startswith("nns-trainer: unhealthy: no trainer has run here"), said
    result = json.loads(answer)
    assert result["code"] == 1
    heavy = {"service.jobs.trainer", "service.jobs.queue", "numpy", "pyarrow", "huey"}
    assert not heavy & set(result["modules"]), heavy & set(result["modules"])
