"""Real processes for process-level tests: gunicorn, the trainer, redis, each on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "python:service.web.gunicorn_conf"]
APP = "service.web.app:create_app()"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body=None, headers: dict | None = None, timeout: float = 10):
    """Send one request; return (status, headers, parsed JSON or raw bytes)."""
    data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, rh, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, rh, raw = err.code, dict(err.headers), err.read()
    try:
        return status, rh, json.loads(raw)
    except ValueError:
        return status, rh, raw


def env_for(data_dir: Path, **extra: str) -> dict:
    """Return an environment for the service with its data under `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNS_", "PROMETHEUS_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        NNS_DATA_DIR=str(data_dir),
        NNS_LOG_LEVEL="WARNING",
        PROMETHEUS_MULTIPROC_DIR=str(data_dir / "metrics"),
    )
    env.update(extra)
    return env


class Proc:
    """A child process with its output in a log file, stopped by its own PID."""

    def __init__(self, argv: list[str], env: dict, log: Path, cwd: Path = ROOT) -> None:
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 20) -> int | None:
        if self.alive():
            self.kill(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                # The whole session: workers of a master that did not stop in time.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()
        return self.popen.returncode


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


class Gunicorn(Proc):
    """gunicorn serving the app with the repo's config file."""

    def __init__(self, data_dir: Path, log: Path, workers: int = 2, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = env_for(
            data_dir, NNS_BIND=f"127.0.0.1:{self.port}", NNS_WORKERS=str(workers), **env
        )
        super().__init__([*GUNICORN, APP], environ, log)

    def wait_ready(self, timeout: float = 30, status: int = 200) -> None:
        def ready():
            if not self.alive():
                raise RuntimeError(f"gunicorn exited:\n{self.output()[-3000:]}")
            try:
                return http("GET", self.url + "/health/ready", timeout=2)[0] == status
            except OSError:
                return False

        wait_until(ready, timeout, what=f"{self.url}/health/ready == {status}")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]


def train_cli(store: Path | str, *args: str) -> dict:
    """Run scripts/train.py --json into `store`; return its JSON line.

    The version is promoted whatever its metrics (--promote always) unless `args` choose a
    policy: these tests build stores with given current versions; tests of the gate say so.
    """
    policy = [] if {"--promote", "--no-promote"} & set(args) else ["--promote", "always"]
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "train.py"),
            "--store",
            str(store),
            "--json",
            *policy,
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_trainer(data_dir: Path, log: Path, **env: str) -> Proc:
    """Start the trainer (`python -m service.jobs.trainer`) with the service's settings."""
    return Proc([sys.executable, "-m", "service.jobs.trainer"], env_for(data_dir, **env), log)


class RedisServer(Proc):
    """redis-server on 127.0.0.1, in memory only; pass the port of a stopped one to restart it."""

    def __init__(self, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no"]
        super().__init__(argv, dict(os.environ), log)
        wait_until(self.ping, 10, what=f"redis-server on port {self.port}")

    def ping(self) -> bool:
        if not self.alive():
            raise RuntimeError(f"redis-server exited:\n{self.output()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False
