"""Real processes on 127.0.0.1 for tests and benchmarks: gunicorn, trainer, redis.

One copy of "start it on a free port, find its workers, stop it", imported by the tests
(`from tests.support.harness import ...`) and the benchmarks under scripts/bench. Every process
gets its own session and a log file; `stop()` sends SIGTERM, then kills the whole session.
gunicorn runs with `service.web.serve.gunicorn_argv()`, the command production runs.
"""

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
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path
from typing import TypeVar

from service.web.serve import gunicorn_argv

ROOT = Path(__file__).resolve().parents[2]
TICKS = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    predicate: Callable[[], T], timeout: float, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll `predicate` until it returns something truthy and return that; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def http(method: str, url: str, body=None, headers: dict | None = None, timeout: float = 10):
    """Send one request; return (status, headers, parsed JSON or raw bytes).

    A body that is not bytes is sent as JSON. Connection errors raise OSError.
    """
    data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, rh, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, rh, raw = err.code, dict(err.headers), err.read()
    except urllib.error.URLError as err:
        if data is None or not isinstance(err.reason, BrokenPipeError | ConnectionResetError):
            raise
        # The server answered (a 413) and closed before it had the whole body: read its answer.
        status, rh, raw = _answer_before_body(method, url, data, hdrs, timeout)
    try:
        return status, rh, json.loads(raw)
    except ValueError:
        return status, rh, raw


def _answer_before_body(method: str, url: str, data: bytes, headers: dict, timeout: float):
    """Send a body the server may refuse before reading it all; return what it answered."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.putrequest(method, target)
        for key, value in {**headers, "Content-Length": str(len(data))}.items():
            conn.putheader(key, value)
        conn.endheaders()
        for start in range(0, len(data), 1 << 16):
            try:
                conn.sock.sendall(data[start : start + (1 << 16)])
            except (BrokenPipeError, ConnectionResetError):
                break  # its answer is already on the way
        resp = conn.getresponse()
        return resp.status, dict(resp.headers), resp.read()
    finally:
        conn.close()


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    """Return an environment for the service with its data under `data_dir`, quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNS_", "PROMETHEUS_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        NNS_DATA_DIR=str(data_dir),
        NNS_LOG_LEVEL="WARNING",
        PROMETHEUS_MULTIPROC_DIR=str(data_dir / "metrics"),
        # A trainer's alive file of its own: other trainers on the machine (other tests, other
        # checkouts) must not make `nns-trainer --check` pass for this one.
        NNS_TRAINER_ALIVE_FILE=str(data_dir / "trainer.alive"),
        NNS_DEFAULT_MODEL="diabetes",  # as make serve and the image set it
        # Full speed beside the test's own processes: a trainer at the default niceness can
        # starve behind them on a loaded machine and miss a test's deadline.
        NNS_TRAINER_NICE="0",
    )
    env.update(extra)
    return env


# --- /proc ------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    """Return the fields of /proc/<pid>/stat after the command name (state is field 0)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """Return the pids whose parent is `pid`, sorted (a gunicorn master's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
    return sorted(found)


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds a process has used (0.0 once it is gone)."""
    try:
        fields = _stat(pid)
    except (OSError, ValueError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid: int) -> int | None:
    """Return a process's resident set size (VmRSS) in KiB, None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


# --- processes --------------------------------------------------------------------------------


class Proc:
    """A child in its own session with its output in a log file, stopped by its own PID."""

    def __init__(self, argv: list[str], env: Mapping[str, str], log: Path, cwd: Path = ROOT):
        self.argv, self.log_path = argv, log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv,
            env=dict(env),
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
        """Send `sig` to this process only."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM, wait up to `timeout` s, then SIGKILL the whole session; return the exit code."""
        if self.alive():
            self.kill(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        # The session: a master that did not stop in time, or workers it left behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(5)
        self._log.close()
        return self.popen.returncode


class Gunicorn(Proc):
    """gunicorn on a free port, started with the production command line (`gunicorn_argv`).

    `app` replaces the service's app (e.g. "bare_app:app", with `args=("--pythonpath", dir)`).
    gunicorn puts its working directory `cwd` first on sys.path: another checkout's code runs
    with `cwd` and PYTHONPATH set to it.
    """

    def __init__(
        self,
        data_dir: Path,
        log: Path | None = None,
        workers: int = 2,
        *,
        app: str | None = None,
        args: tuple[str, ...] = (),
        cwd: Path = ROOT,
        **env: str,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = gunicorn_argv(*args)
        if app is not None:
            argv[-1] = app
        bind = {"NNS_BIND": f"127.0.0.1:{self.port}", "NNS_WORKERS": str(workers)}
        environ = env_for(data_dir, **{**bind, **env})
        super().__init__(argv, environ, log or data_dir / "gunicorn.log", cwd)

    def wait_ready(self, timeout: float = 30, status: int = 200, path: str = "/health/ready"):
        """Wait until GET `path` answers `status`; fail at once if gunicorn exits."""

        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"gunicorn exited:\n{self.output()[-3000:]}")
            try:
                return http("GET", self.url + path, timeout=2)[0] == status
            except OSError:
                return False

        wait_until(ready, timeout, what=f"{self.url}{path} == {status}")

    def worker_pids(self) -> list[int]:
        return children(self.pid)

    def worker_cpu(self) -> dict[int, float]:
        """Return CPU seconds used so far by each worker."""
        return {pid: cpu_seconds(pid) for pid in self.worker_pids()}


def stop_all(procs: Iterable) -> None:
    """Stop processes (anything with stop(); None is skipped) side by side: each takes a second
    or two to shut down gracefully."""
    running = [proc for proc in procs if proc is not None]
    with ThreadPoolExecutor(max(len(running), 1)) as pool:
        list(pool.map(lambda proc: proc.stop(), running))


def start_trainer(data_dir: Path, log: Path | None = None, **env: str) -> Proc:
    """Start the trainer (`python -m service.jobs.trainer`) with the service's settings."""
    argv = [sys.executable, "-m", "service.jobs.trainer"]
    return Proc(argv, env_for(data_dir, **env), log or data_dir / "trainer.log")


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


def train_cli(store: Path | str, *args: str, env: Mapping[str, str] | None = None) -> dict:
    """Run scripts/train.py --json into `store`; return its JSON line.

    The version is promoted whatever its metrics (--promote always) unless `args` choose a
    policy: tests and benchmarks build stores with given current versions; tests of the gate
    say so.
    """
    argv = [sys.executable, str(ROOT / "scripts" / "train.py"), "--store", str(store), "--json"]
    policy = [] if {"--promote", "--no-promote"} & set(args) else ["--promote", "always"]
    out = subprocess.run(
        [*argv, *policy, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=None if env is None else dict(env),
    )
    if out.returncode != 0:
        raise RuntimeError(f"train.py {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
