"""nginx in front of the API replicas: docker-compose.yml alone and with docker-compose.scale.yml.

The stacks themselves run in scripts/compose_smoke.sh and compose_scale_smoke.sh, which need a
Docker engine; here the files are resolved by Compose itself and checked against nginx's config
and the image. tests/deploy/test_nginx.py runs nginx's config in front of real gunicorn.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from service.settings import Settings
from tests.support.container import compose_config, dockerfile
from tests.support.harness import ROOT, wait_until

FILES = ("docker-compose.yml", "docker-compose.scale.yml")
NGINX = ROOT / "deploy" / "nginx"


@pytest.fixture(scope="module", params=[FILES[:1], FILES], ids=["default", "scale"])
def scaled(request, tmp_path_factory) -> dict:
    """The services, resolved by Compose in a project directory outside the checkout."""
    tmp = tmp_path_factory.mktemp("scale")
    services = compose_config(tmp, {}, None, *request.param)["services"]
    services["project_dir"] = tmp / "project"
    return services


def test_the_scale_file_only_adds_replicas_to_the_default_stack(tmp_path):
    """One nginx, defined once: the scale file changes how many replicas run, nothing else."""
    base = compose_config(tmp_path, {}, None)["services"]
    merged = compose_config(tmp_path, {}, None, *FILES)["services"]
    assert set(merged) == set(base)
    replicas = {name: s["deploy"]["replicas"] for name, s in merged.items() if "deploy" in s}
    assert replicas == {"api": 3, "trainer": 2}
    for name in merged:
        assert {**merged[name], "deploy": None} == {**base[name], "deploy": None}, name


def nginx_conf() -> str:
    return (NGINX / "nns.conf").read_text()


def test_only_nginx_publishes_a_port_and_on_loopback(scaled):
    assert "ports" not in scaled["api"], "replicas cannot share a host port"
    [port] = scaled["lb"]["ports"]
    listen = re.search(r"^\s*listen (\d+);", nginx_conf(), re.M).group(1)
    assert (port["host_ip"], port["published"], port["target"]) == (
        "127.0.0.1",
        "8000",
        int(listen),
    )
    assert scaled["trainer"].get("ports") is None


def test_nginx_sends_to_the_api_service_on_the_image_port(scaled):
    image_port = dockerfile()["ENV"]["NNS_BIND"].rpartition(":")[2]
    servers = re.findall(r"^\s*server (\S+?):(\d+)\b", nginx_conf(), re.M)
    assert servers == [("api", image_port)]
    assert re.search(r"max_fails=\d+ fail_timeout=\d+s;", nginx_conf()), "passive health"
    assert "non_idempotent" not in re.search(r"location / \{.*?\}", nginx_conf(), re.S).group(0)
    assert scaled["lb"]["depends_on"]["api"]["condition"] == "service_healthy"
    check = scaled["lb"]["healthcheck"]["test"]
    assert check[-1] == f"http://127.0.0.1:{listen_port()}/health/ready"


def test_nginx_limits_are_the_apis():
    """nginx refuses bodies over the API's limit with the API's text, and waits longer for an
    answer than a gunicorn worker may take (tests/deploy/test_nginx.py runs them)."""
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    limit = defaults["max_body_bytes"]
    assert f"\n    client_max_body_size {limit // 2**20}m;" in nginx_conf()
    assert f"request body is larger than {limit} bytes" in nginx_conf()
    read_timeout = re.search(r"^\s*proxy_read_timeout (\d+)s;", nginx_conf(), re.M).group(1)
    assert int(read_timeout) > defaults["timeout"]


def listen_port() -> str:
    return re.search(r"^\s*listen (\d+);", nginx_conf(), re.M).group(1)


def test_lb_mounts_files_of_this_repository_read_only_and_runs_unprivileged(scaled):
    lb = scaled["lb"]
    sources = {v["source"]: v for v in lb["volumes"]}
    assert sources, "nginx's config comes from deploy/nginx"
    for source, volume in sources.items():  # relative to the project directory
        assert volume["type"] == "bind" and volume["read_only"] is True
        relative = os.path.relpath(source, scaled["project_dir"])
        assert relative.startswith("deploy/nginx/") and (ROOT / relative).is_file(), relative
    assert lb["command"][-1] in {v["target"] for v in lb["volumes"]}
    assert lb["read_only"] is True and lb["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in lb["security_opt"]
    assert lb["restart"] == "unless-stopped"
    assert lb["logging"]["driver"] == "json-file" and lb["logging"]["options"]["max-file"]


@pytest.mark.process
def test_run_sh_reloads_nginx_when_the_replicas_change_and_quits_it_on_sigterm(tmp_path):
    """deploy/nginx/run.sh with stand-ins for nginx and getent (the lb image has both)."""
    bin_dir, calls, hosts = tmp_path / "bin", tmp_path / "calls", tmp_path / "hosts"
    looks = tmp_path / "looks"  # a line per getent call: how often run.sh looked
    bin_dir.mkdir()
    hosts.write_text("172.20.0.3\n172.20.0.4\n")
    (bin_dir / "getent").write_text(
        f'#!/bin/sh\n[ "$1 $2" = "ahostsv4 api" ] || exit 2\necho >> {looks}\n'
        f'while read -r ip; do echo "$ip STREAM api"; done < {hosts}\n'
    )
    # Python, not sh: a shell cannot trap SIGQUIT that it was started with ignored, as run.sh's
    # background jobs are; nginx, like this stand-in, installs its own handler.
    (bin_dir / "nginx").write_text(
        f"#!{sys.executable}\nimport signal, sys, time\n"
        f"open({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1] == '-s': sys.exit(0)\n"
        f"signal.signal(signal.SIGQUIT, lambda *_: (open({str(calls)!r}, 'a').write('quit\\n'),"
        " sys.exit(0)))\n"
        "while True: time.sleep(0.05)\n"
    )
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LB_RESOLVE_EVERY": "0.1"}
    proc = subprocess.Popen(
        ["sh", str(NGINX / "run.sh")],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        lines = lambda: calls.read_text().splitlines() if calls.exists() else []  # noqa: E731

        def looked_again(times: int = 3) -> None:
            """Wait until run.sh has looked up the replicas `times` more times (and acted)."""
            count = lambda: len(looks.read_text().splitlines()) if looks.exists() else 0  # noqa: E731
            then = count()
            wait_until(lambda: count() >= then + times, timeout=10, what="run.sh to look again")

        wait_until(lambda: lines() == ["-g daemon off;"], timeout=10, what="nginx started")
        looked_again()
        assert lines() == ["-g daemon off;"], "reloaded with no change"
        hosts.write_text("172.20.0.4\n172.20.0.3\n172.20.0.9\n")  # a replica added
        wait_until(lambda: lines()[1:] == ["-s reload"], timeout=10, what="a reload")
        hosts.write_text("")  # no replica resolves: keep the last set rather than none
        looked_again()
        assert lines()[1:] == ["-s reload"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert lines()[-1] == "quit", "nginx was not asked to finish gracefully"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out = proc.communicate(timeout=10)[0]
    assert "api replicas: 172.20.0.3 172.20.0.4 172.20.0.9 " in out


def test_compose_scale_smoke_refuses_without_a_docker_engine(tmp_path):
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "calls"}\nexit 1\n')
    fake.chmod(0o755)
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "compose_scale_smoke.sh")],
        env={**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0 and "no Docker engine" in out.stderr
    assert (tmp_path / "calls").read_text().split() == ["info"]


def test_the_s3_variant_points_api_and_trainer_at_the_bucket_it_creates(tmp_path):
    """docker-compose.s3.yml: the store in a moto server's bucket, created before they start."""
    for files in (
        ("docker-compose.yml", "docker-compose.s3.yml"),
        (*FILES, "docker-compose.s3.yml"),
    ):
        services = compose_config(tmp_path, {}, None, *files)["services"]
        bucket_cmd = services["s3-bucket"]["command"][-1]
        bucket = re.search(r"create_bucket\(Bucket='([a-z0-9.-]+)'\)", bucket_cmd).group(1)
        moto_port = re.search(r'"-p", "(\d+)"', (ROOT / "deploy/moto/Dockerfile").read_text())
        for name in ("api", "trainer", "s3-bucket"):
            env = services[name]["environment"]
            assert env["AWS_ENDPOINT_URL"] == f"http://s3:{moto_port.group(1)}", name
            assert env["NNS_MODEL_STORE"].startswith(f"s3://{bucket}/"), name
        for name in ("api", "trainer"):
            assert services[name]["depends_on"]["s3-bucket"]["condition"] == (
                "service_completed_successfully"
            )
            assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert services["s3-bucket"]["depends_on"]["s3"]["condition"] == "service_healthy"
        assert services["s3-bucket"]["restart"] == "no"
