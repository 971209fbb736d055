"""scripts/serve.py (`make serve`): it says "serving" only once the API answers; a taken port is
one line naming NNS_BIND."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.support.harness import ROOT, env_for, free_port, http

SCRIPT = ROOT / "scripts" / "serve.py"


def start(tmp_path, port: int) -> subprocess.Popen:
    env = env_for(tmp_path / "data", NNS_BIND=f"127.0.0.1:{port}", NNS_WORKERS="1")
    return subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def read_until(proc: subprocess.Popen, marker: str, timeout: float) -> list[str]:
    """Return stdout lines up to and including the first that contains `marker`.

    Reads the pipe's descriptor itself: a buffered readline() can take a later line into its
    buffer along with the one it returns, where select() no longer sees it (two lines written
    at once, as "serving on" right after a gunicorn log line, once waited out the timeout).
    """
    fd = proc.stdout.fileno()
    lines, pending, deadline = [], b"", time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=deadline - time.monotonic()):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                lines.append(line.decode() + "\n")
                if marker in lines[-1]:
                    return lines
    raise AssertionError(f"no line with {marker!r} in {timeout} s: {lines[-20:]}")


def test_read_until_sees_lines_that_arrive_together():
    writer = "import sys, time; print('a\\nserving on x', flush=True); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    try:
        assert read_until(proc, "serving on", timeout=20) == ["a\n", "serving on x\n"]
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.process
def test_serving_is_reported_once_the_port_answers_and_sigterm_stops_it(tmp_path):
    port = free_port()
    proc = start(tmp_path, port)
    try:
        lines = read_until(proc, "serving on", timeout=120)
        # At the moment the line appears, the API already answers.
        status, _, body = http("GET", f"http://127.0.0.1:{port}/health/live", timeout=5)
        assert status == 200, body
        assert lines[-1].strip() == f"serving on http://127.0.0.1:{port} (Ctrl-C stops)"
        assert any("trained default model 'diabetes' version 1" in line for line in lines)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
    assert code == 0, (out[-3000:], err[-3000:])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.process
def test_a_taken_port_is_one_line_naming_nns_bind_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start(tmp_path, port)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert out == ""
    assert err.splitlines() == [
        f"serve: cannot listen on 127.0.0.1:{port} (NNS_BIND): address already in use; "
        "stop what uses it or set NNS_BIND to another address"
    ]
    assert not (tmp_path / "data" / "models").exists(), "trained before failing"
