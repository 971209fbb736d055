"""The image's command and healthchecks run for real; compose agrees with image and settings."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

from model_store import ModelStore
from service.settings import Settings
from tests.support.container import compose, compose_config, dockerfile
from tests.support.harness import ROOT, Proc, free_port, http, wait_until

# Where the image's paths live on this machine: the image's venv is the one running the tests.
IMAGE_ROOTS = {"/opt/venv": Path(sys.prefix), "/data": "data", "/tmp": "tmp"}


def _to_host(value: str, roots: dict[str, Path]) -> str:
    parts = []
    for part in value.split(":"):
        for image_root, host_root in roots.items():
            if part == image_root or part.startswith(image_root + "/"):
                part = str(host_root) + part[len(image_root) :]
                break
        parts.append(part)
    return ":".join(parts).replace("$PATH", os.environ["PATH"])


def image_env(image: dict, tmp_path: Path, port: int) -> tuple[dict, dict]:
    """Return the container's environment mapped onto this machine, and the path mapping."""
    roots = {k: v if isinstance(v, Path) else tmp_path / v for k, v in IMAGE_ROOTS.items()}
    roots["/tmp"].mkdir()  # exists in every image
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNS_", "PROMETHEUS_"))}
    env["PYTHONPATH"] = str(ROOT)  # the image has the package installed; here it is the checkout
    for key, value in image["ENV"].items():
        env[key] = _to_host(value, roots)
    env["NNS_BIND"] = f"127.0.0.1:{port}"
    return env, roots


def run_check(argv: list[str], env: dict) -> int:
    exe = shutil.which(argv[0], path=env["PATH"])
    return subprocess.run([exe, *argv[1:]], env=env, capture_output=True, timeout=30).returncode


def compose_check(test: list[str]) -> list[str]:
    assert test[0] in ("CMD", "CMD-SHELL"), test
    return test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]]


@pytest.mark.process
def test_image_cmd_trains_default_model_once_and_passes_healthchecks(tmp_path):
    """The image's CMD and ENV on an empty store: ready with the default model, trained once."""
    image = dockerfile()
    port = free_port()
    env, roots = image_env(image, tmp_path, port)
    workdir = Path(_to_host(image["WORKDIR"], roots))
    workdir.mkdir(parents=True)
    store = ModelStore(Path(env["NNS_DATA_DIR"]) / "models")
    assert store.list_models() == []
    cmd = [shutil.which(image["CMD"][0], path=env["PATH"]), *image["CMD"][1:]]
    checks = [
        image["HEALTHCHECK"],
        compose_check(compose()["services"]["api"]["healthcheck"]["test"]),
    ]

    for start in (1, 2):  # the second start, on the same store, must not train again
        server = Proc(cmd, env, tmp_path / f"server{start}.log", cwd=workdir)
        try:
            wait_until(lambda s=server: _ready(s, port), timeout=90, interval=0.2, what="readiness")
            assert store.list_models() == ["diabetes"]
            assert store.versions("diabetes") == [1]
            assert [run_check(c, env) for c in checks] == [0, 0]
        finally:
            server.stop()
        assert 0 not in [run_check(c, env) for c in checks], "a check passed with no server"


def _ready(server: Proc, port: int) -> bool:
    if not server.alive():
        raise RuntimeError(f"the image's CMD exited:\n{server.output()[-3000:]}")
    try:
        return http("GET", f"http://127.0.0.1:{port}/health/ready", timeout=2)[0] == 200
    except OSError:
        return False


def compose_env(env: dict, service: dict, redis_port: str) -> dict:
    """Add a compose service's env file (the committed example) and environment to `env`."""
    example = (ROOT / ".env.example").read_text().splitlines()
    env = {**env, **dict(line.split("=", 1) for line in example if line and line[0] != "#")}
    image = dockerfile()["ENV"]
    for key, value in service.get("environment", {}).items():
        # A name alone passes the caller's value through; the image's own values (its paths
        # and bind address) are already mapped onto this machine in `env`.
        if value is not None and value != image.get(key):
            value = re.sub(  # ${NAME:-default}, as compose interpolates it
                r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m[1]) or m[2], value
            )
            env[key] = value.replace("//redis:6379/", f"//127.0.0.1:{redis_port}/")  # DNS
    return env


@pytest.mark.process
def test_compose_stack_trains_a_version_the_api_serves(tmp_path):
    """Redis, the API and the trainer as compose runs them, sharing one data dir and queue."""
    image, services = dockerfile(), compose()["services"]
    port, redis_port = free_port(), str(free_port())
    base, roots = image_env(image, tmp_path, port)
    workdir = Path(_to_host(image["WORKDIR"], roots))
    workdir.mkdir(parents=True)
    api_env = compose_env(base, services["api"], redis_port)
    trainer_env = compose_env(base, services["trainer"], redis_port)
    token = api_env["NNS_ADMIN_TOKEN"]
    argv = {
        "redis": [*services["redis"]["command"], "--port", redis_port, "--dir", str(tmp_path)],
        "api": image["CMD"],
        "trainer": services["trainer"]["command"],
    }
    envs = {"redis": base, "api": api_env, "trainer": trainer_env}
    procs = {}
    try:
        for name in ("redis", "api", "trainer"):
            cmd = [shutil.which(argv[name][0], path=envs[name]["PATH"]), *argv[name][1:]]
            procs[name] = Proc(cmd, envs[name], tmp_path / f"{name}.log", cwd=workdir)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(procs["api"], port), timeout=90, interval=0.2, what="ready")
        job = {"model": "diabetes", "dataset": "diabetes", "hyperparameters": {"epochs": 200}}
        job["promote"] = "always"  # the stack is under test, not the promotion gate
        auth = {"Authorization": f"Bearer {token}"}
        status, _, body = http("POST", url + "/train", job, headers=auth)
        assert status == 202, body

        def finished():
            state = http("GET", f"{url}/train/jobs/{body['job_id']}")[2]
            return state if state["status"] not in ("queued", "running") else None

        state = wait_until(finished, timeout=90, interval=0.2, what="the training job")
        assert state["status"] == "succeeded", (state, procs["trainer"].output()[-2000:])
        assert state["result"]["version"] == 2
        row = {"smoking": 0, "obesity": 1, "exercise": 0}

        def serves_v2():
            return http("POST", url + "/predict", row)[2]["version"] == 2

        wait_until(serves_v2, timeout=30, interval=0.1, what="version 2 served")
    finally:
        for proc in reversed(procs.values()):
            proc.stop()


@pytest.mark.process
def test_compose_redis_command_and_healthcheck(tmp_path):
    """The compose Redis command starts a server and its healthcheck tells up from down."""
    redis = compose()["services"]["redis"]
    port = str(free_port())
    cli, *args = compose_check(redis["healthcheck"]["test"])
    check = [cli, "-p", port, *args]  # the compose check, pointed at this test's port
    env = dict(os.environ)
    assert run_check(check, env) != 0
    server = Proc([*redis["command"], "--port", port, "--dir", str(tmp_path)], env, tmp_path / "r")
    try:
        wait_until(lambda: run_check(check, env) == 0, timeout=20, what="redis healthcheck")
    finally:
        server.stop()


def test_dockerfile_final_stage_is_small_and_unprivileged():
    image = dockerfile()
    user = image["USER"].split(":")
    assert all(part.isdigit() and int(part) > 0 for part in user), image["USER"]
    assert image["ENV"]["NNS_DATA_DIR"] in image["VOLUME"]
    assert image["EXPOSE"] == image["ENV"]["NNS_BIND"].rpartition(":")[2]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert image["CMD"][0] in scripts, "the image runs a command the package installs"
    assert "--start-period=60s" in image["HEALTHCHECK_OPTIONS"]
    build, final = image["STAGES"][0], image["STAGES"][-1]
    assert final[0][1] == build[0][1].split(" AS ")[0], "both stages share one slim base"
    assert not [rest for kw, rest in final if kw == "RUN" and ("pip" in rest or "apt" in rest)]
    # The runtime stage takes only what the build stage installed: no source tree, no tools.
    copies = [rest.split() for kw, rest in final if kw == "COPY"]
    assert copies and all(c[0] == "--from=build" for c in copies), copies


def test_dockerignore_keeps_what_the_build_copies():
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    build = dockerfile()["STAGES"][0]
    sources = [p for kw, rest in build if kw == "COPY" for p in rest.split()[:-1]]
    assert sources and set(sources) <= allowed
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["readme"] in allowed


def test_compose_agrees_with_image_and_settings():
    image, services = dockerfile(), compose()["services"]
    api, trainer = services["api"], services["trainer"]
    data_dir = image["ENV"]["NNS_DATA_DIR"]

    # Only nginx publishes a port, on loopback (tests/deploy/test_compose_scale.py checks that it
    # sends to the image's port); the API runs the image's CMD.
    assert [name for name, service in services.items() if "ports" in service] == ["lb"]
    assert [p.split(":")[0] for p in services["lb"]["ports"]] == ["127.0.0.1"]
    assert "command" not in api
    # API and trainer share one named volume at the data dir, and one Redis queue.
    for service in (api, trainer):
        name, target = service["volumes"][0].split(":")
        assert (name, target) == ("models", data_dir)
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "models" in compose()["volumes"]
    redis_url = api["environment"]["NNS_REDIS_URL"]
    assert trainer["environment"]["NNS_REDIS_URL"] == redis_url == "redis://redis:6379/0"
    assert services["redis"]["image"].startswith("redis:7")
    # The trainer is the console script the package declares.
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert (
        trainer["command"] == ["nns-trainer"]
        and scripts["nns-trainer"] == "service.jobs.command:main"
    )
    # The API's check is the image's; the trainer's asks the trainer, not a port it lacks.
    assert api["healthcheck"]["test"] == ["CMD", *image["HEALTHCHECK"]]
    assert trainer["healthcheck"]["test"] == ["CMD", "nns-trainer", "--check"]
    assert all(s.get("restart") == "unless-stopped" for s in services.values())
    # Docker rotates every container's log.
    for service in services.values():
        assert service["logging"]["driver"] == "json-file"
        assert set(service["logging"]["options"]) == {"max-size", "max-file"}


def test_compose_env_names_are_settings_and_token_comes_from_ignored_env_file():
    fields = {f"NNS_{name.upper()}" for name in Settings.model_fields}
    services = compose()["services"].values()
    used = {key for s in services for key in s.get("environment") or {}}
    example = (ROOT / ".env.example").read_text().splitlines()
    listed = {line.split("=")[0].lstrip("# ") for line in example if "=" in line}
    assert "NNS_ADMIN_TOKEN" in listed
    names = {n for n in used | listed | set(dockerfile()["ENV"]) if n.startswith("NNS_")}
    assert names <= fields, names - fields
    api = compose()["services"]["api"]
    assert api["env_file"] == [{"path": ".env", "required": False}]
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_compose_smoke_refuses_without_a_docker_engine(tmp_path):
    """Where `docker info` fails the smoke script says why and exits non-zero, touching nothing."""
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "calls"}\nexit 1\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "compose_smoke.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0
    assert "no Docker engine" in out.stderr
    assert (tmp_path / "calls").read_text().split() == ["info"]


# Settings that wire the containers to compose's own volume, port and Redis: compose fixes them.
COMPOSE_FIXED = {"NNS_DATA_DIR", "NNS_BIND", "NNS_REDIS_URL"}
DEFAULTED = {"NNS_DEFAULT_MODEL"}  # passed from the shell or .env, with compose's own default


def test_compose_takes_each_setting_from_the_shell_first_then_dotenv(tmp_path):
    """`NNS_X=... docker compose up` reaches API and trainer; .env too; the shell wins."""
    fields = sorted(f"NNS_{name.upper()}" for name in Settings.model_fields)
    passed = [name for name in fields if name not in COMPOSE_FIXED]
    for name in ("api", "trainer"):
        environment = compose()["services"][name]["environment"]
        missing = sorted(set(fields) - set(environment))
        assert not missing, f"add {missing} without a value to x-app's environment in compose"
        assert set(environment) <= set(fields), set(environment) - set(fields)
        # NNS_DEFAULT_MODEL follows the shell and .env too, with diabetes where neither sets it.
        assert environment["NNS_DEFAULT_MODEL"] == "${NNS_DEFAULT_MODEL:-diabetes}"
        assert {k for k, v in environment.items() if v is None} == set(passed) - DEFAULTED
    shell_only, dotenv_only, both = passed[0::3], passed[1::3], passed[2::3]
    shell = {k: f"shell:{k}" for k in shell_only + both + sorted(COMPOSE_FIXED)}
    dotenv = {k: f"dotenv:{k}" for k in dotenv_only + both + sorted(COMPOSE_FIXED)}
    dotenv["AWS_ENDPOINT_URL"] = "http://store:5000"  # anything else in .env passes too
    resolved = compose_config(tmp_path, shell, dotenv)["services"]
    fixed = {
        "NNS_DATA_DIR": dockerfile()["ENV"]["NNS_DATA_DIR"],
        "NNS_BIND": dockerfile()["ENV"]["NNS_BIND"],
        "NNS_REDIS_URL": "redis://redis:6379/0",
    }
    assert set(fixed) == COMPOSE_FIXED
    expected = {
        **{k: f"shell:{k}" for k in shell_only + both},
        **{k: f"dotenv:{k}" for k in dotenv_only},
        **fixed,
        "AWS_ENDPOINT_URL": "http://store:5000",
    }
    for name in ("api", "trainer"):
        assert resolved[name]["environment"] == expected, name

    # Set nowhere: the container does not get the variable (docker removes it, the image's ENV
    # included, so the code's default applies), but for the default model's.
    bare = compose_config(tmp_path, {}, None)["services"]
    for name in ("api", "trainer"):
        given = {k: v for k, v in bare[name]["environment"].items() if v is not None}
        assert given == {**fixed, "NNS_DEFAULT_MODEL": "diabetes"}, name


@pytest.mark.process
def test_image_cmd_on_an_unwritable_data_dir_logs_one_line_and_exits_1(tmp_path):
    """A bind-mounted /data the image's uid cannot write: one JSON line naming path and uid."""
    image = dockerfile()
    env, roots = image_env(image, tmp_path, free_port())
    data = Path(env["NNS_DATA_DIR"])
    uid = int(image["USER"].split(":")[0])
    cmd = [shutil.which(image["CMD"][0], path=env["PATH"]), *image["CMD"][1:]]
    extra, cleanup = {}, None
    if os.getuid() != 0:
        data.mkdir(parents=True)
        data.chmod(0o555)
        uid = os.getuid()
    elif _runs_as(uid, env):  # as in the container: a root-owned directory, the image's uid
        cleanup = Path(tempfile.mkdtemp(prefix="nns-ro-"))  # tmp_path's parents are 0700
        cleanup.chmod(0o755)
        data = cleanup / "data"
        data.mkdir()
        env["NNS_DATA_DIR"] = str(data)
        extra = {"user": uid, "group": uid, "extra_groups": []}
    else:  # root, and this checkout is not readable by that uid: a lock path root cannot open
        (data / ".bootstrap.lock").mkdir(parents=True)
        uid = 0
    try:
        out = subprocess.run(
            cmd, env=env, cwd=data, capture_output=True, text=True, timeout=60, **extra
        )
    finally:
        if cleanup:
            shutil.rmtree(cleanup)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert out.stderr == "" and "Traceback" not in out.stdout
    [line] = out.stdout.splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and record["uid"] == uid
    assert record["path"].startswith(str(data)), record
    assert str(data) in record["message"] and f"uid {uid}" in record["message"]
    assert "NNS_DATA_DIR" in record["message"]


def _runs_as(uid: int, env: dict) -> bool:
    """Return True if `uid` can import the service from this checkout with this interpreter."""
    probe = [sys.executable, "-c", "import service.web.serve"]
    kwargs = {"user": uid, "group": uid, "extra_groups": []}
    try:
        done = subprocess.run(probe, env=env, cwd="/", capture_output=True, **kwargs)
        return done.returncode == 0
    except OSError:  # e.g. the interpreter lives under a directory only root may enter
        return False


@pytest.mark.process
def test_image_cmd_with_a_taken_port_names_nns_bind_and_trains_nothing(tmp_path):
    image = dockerfile()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env, roots = image_env(image, tmp_path, port)
        cmd = [shutil.which(image["CMD"][0], path=env["PATH"]), *image["CMD"][1:]]
        out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert len(out.stdout.splitlines()) == 1, (out.stdout, out.stderr)
    [line] = out.stdout.splitlines()
    record = json.loads(line)
    assert f"127.0.0.1:{port} (NNS_BIND)" in record["message"], record
    assert "already in use" in record["message"]
    assert not (Path(env["NNS_DATA_DIR"]) / "models").exists(), "trained before failing"


@pytest.mark.process
def test_compose_trainer_healthcheck_tells_a_live_trainer_from_none(tmp_path):
    """The compose trainer's check, run where the trainer runs: 0 with a trainer, else not."""
    image, services = dockerfile(), compose()["services"]
    base, roots = image_env(image, tmp_path, free_port())
    workdir = Path(_to_host(image["WORKDIR"], roots))
    workdir.mkdir(parents=True)
    env = compose_env(base, services["trainer"], "6379")
    env.pop("NNS_REDIS_URL")  # the SQLite queue in the data dir: no Redis needed here
    # This trainer's own alive file: another trainer on the machine must not pass the check.
    env["NNS_TRAINER_ALIVE_FILE"] = str(tmp_path / "trainer.alive")
    check = compose_check(services["trainer"]["healthcheck"]["test"])
    argv = [shutil.which(check[0], path=env["PATH"]), *check[1:]]
    alone = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, timeout=15)
    assert alone.returncode != 0, "the check passed with no trainer running"
    trainer_cmd = services["trainer"]["command"]
    trainer = Proc(
        [shutil.which(trainer_cmd[0], path=env["PATH"]), *trainer_cmd[1:]],
        env,
        tmp_path / "trainer.log",
        cwd=workdir,
    )
    try:

        def passes():
            if not trainer.alive():
                raise RuntimeError(f"the trainer exited:\n{trainer.output()[-2000:]}")
            return subprocess.run(argv, env=env, cwd=workdir, timeout=15).returncode == 0

        wait_until(passes, timeout=60, interval=0.5, what="the trainer healthcheck")
    finally:
        trainer.stop()
