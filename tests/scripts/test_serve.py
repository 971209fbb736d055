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

from tests.procs import ROOT, env_for, free_port, http

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
    """Return stdout lines up to and including the first that contains `marker`."""
    lines, deadline = [], time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=deadline - time.monotonic()):
                break
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if marker in line:
                return lines
    raise AssertionError(f"no line with {marker!r} in {timeout} s: {lines[-20:]}")


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
