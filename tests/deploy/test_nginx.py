"""deploy/nginx/nns.conf with Debian's nginx in front of real gunicorn, as compose runs them.

Slow clients (scripts/slow_clients.py, run as a process) stop every prediction when they reach
gunicorn directly and none through nginx; clients see the API unchanged through it: request ids,
the error shape, 413 at the API's own limit, nginx's own errors in that shape. Without a proxy,
gunicorn's worker timeout frees the workers slow clients hold and logs why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from http.client import HTTPConnection
from pathlib import Path

import pytest

from service.settings import Settings
from tests.support.harness import ROOT, Gunicorn, Proc, free_port, http, wait_until

pytestmark = pytest.mark.process

CONF = ROOT / "deploy" / "nginx" / "nns.conf"
ROW = {"smoking": 0, "obesity": 1, "exercise": 0}
LIMIT = Settings.model_fields["max_body_bytes"].default


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    assert found, "nginx not found: bash scripts/install_system_deps.sh installs Debian's"
    return found


class Nginx(Proc):
    """nginx with the shipped server config, on 127.0.0.1, sending to one gunicorn port.

    The main context is Debian's nginx.conf reduced to what a test needs (one worker, its
    768 connections); the shipped file is included as compose mounts it into conf.d, with its
    listen address, upstream and log path pointed at this test's.
    """

    def __init__(self, root: Path, upstream_port: int) -> None:
        root.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = root / "access.log"
        shipped = CONF.read_text()
        conf = shipped.replace("listen 8080;", f"listen 127.0.0.1:{self.port};")
        conf = conf.replace("server api:8000 ", f"server 127.0.0.1:{upstream_port} ")
        conf = conf.replace("access_log /dev/stdout ", f"access_log {self.access_log} ")
        assert conf.count(str(self.port)) == 1 and conf.count(str(upstream_port)) == 1
        assert str(self.access_log) in conf, "the shipped config changed: update this test"
        (root / "nns.conf").write_text(conf)
        temp = "\n".join(
            f"    {kind}_temp_path {root / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        user = "user root root;\n" if os.geteuid() == 0 else ""  # workers reach tmp_path
        (root / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {root / 'nginx.pid'};\ndaemon off;\n"
            "events { worker_connections 768; }\n"
            f"http {{\n{temp}\n    include {root / 'nns.conf'};\n}}\n"
        )
        argv = [nginx_binary(), "-p", str(root), "-e", str(root / "error.log")]
        super().__init__([*argv, "-c", str(root / "nginx.conf")], dict(os.environ), root / "out")
        wait_until(self._listening, 10, what=f"nginx on {self.url}")

    def _listening(self) -> bool:
        if not self.alive():
            errors = (self.log_path.parent / "error.log").read_text()
            raise RuntimeError(f"nginx exited:\n{self.output()}{errors}")
        try:
            http("GET", self.url + "/health/live", timeout=2)
            return True
        except OSError:
            return False

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.access_log.read_text().splitlines()]


@pytest.fixture(scope="module")
def api(tmp_path_factory, trained_store):
    """gunicorn with two sync workers (the default) on a copy of the trained store."""
    root = tmp_path_factory.mktemp("api")
    shutil.copytree(trained_store.root, root / "models")
    server = Gunicorn(root, workers=2, NNS_LOG_LEVEL="INFO")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, api):
    server = Nginx(tmp_path_factory.mktemp("proxy") / "nginx", api.port)
    try:
        yield server
    finally:
        server.stop()


def slow_clients(url: str, *args: str) -> dict:
    """Run scripts/slow_clients.py against `url`; return its figures."""
    argv = [sys.executable, str(ROOT / "scripts" / "slow_clients.py"), url, "--json", *args]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


# 64 connections, a byte a second each, held 6 s while a client predicts every 0.1 s.
ATTACK = ("--slow", "64", "--drip", "1", "--interval", "0.1", "--settle", "1")


def test_slow_clients_do_not_stop_predictions_through_nginx(proxy, api):
    figures = slow_clients(proxy.url, *ATTACK, "--hold", "6", "--after", "20")
    during, after = figures["during"], figures["after"]
    assert figures["failed_opens"] == 0, figures
    assert during["sent"] >= 30 and during["fraction"] >= 0.95, figures
    assert after == {**after, "sent": 20, "within_deadline": 20, "failures": {}}, figures
    assert "WORKER TIMEOUT" not in api.output(), "a slow client reached a gunicorn worker"


def test_the_same_slow_clients_stop_gunicorn_without_nginx(api):
    """The check has teeth: the attack above, straight at gunicorn, stops nearly every answer."""
    figures = slow_clients(api.url, *ATTACK, "--hold", "2", "--after", "5", "--timeout", "1.5")
    assert figures["during"]["fraction"] <= 0.5, figures
    assert figures["after"]["failures"] == {}, figures  # and gunicorn recovers once they go


def _same_answer(proxied: tuple, direct: tuple) -> None:
    """The answer through nginx is the API's: status, body and headers but the request id."""
    (status, headers, body), (d_status, d_headers, d_body) = proxied, direct
    assert status == d_status, (body, d_body)
    assert headers["Content-Type"] == d_headers["Content-Type"] == "application/json"
    for name in ("X-Content-Type-Options", "Cache-Control"):
        assert headers[name] == d_headers[name], name
    assert body["request_id"] == headers["X-Request-ID"]
    assert {**body, "request_id": None} == {**d_body, "request_id": None}


def test_errors_keep_the_api_shape_through_nginx(proxy, api):
    cases = [
        ("POST", "/predict", {**ROW, "smoking": 2}),  # 422
        ("POST", "/predict", b"{not json"),  # 400
        ("POST", "/models/nope/predict", ROW),  # 404
        ("DELETE", "/predict", None),  # 405
    ]
    for method, path, body in cases:
        proxied = http(method, proxy.url + path, body)
        _same_answer(proxied, http(method, api.url + path, body))
        assert proxied[0] in (400, 404, 405, 422)


def test_413_at_the_api_limit_in_the_api_shape(proxy, api):
    """nginx refuses exactly what the API refuses, before passing it on, with the API's answer."""
    row = json.dumps(ROW).encode()
    at_limit = row + b" " * (LIMIT - len(row))  # valid JSON, padded to the limit
    status, _, body = http("POST", proxy.url + "/predict", at_limit)
    assert status == 200 and body["label"] in (0, 1)
    proxied = http("POST", proxy.url + "/predict", at_limit + b" ")
    # gunicorn answers once it has the headers and closes: a client still sending the body gets
    # a broken pipe instead (nginx reads and drops the rest). So the API is asked headers only.
    _same_answer(proxied, announce_body(api.port, LIMIT + 1))
    assert proxied[0] == 413 and str(LIMIT) in proxied[2]["error"]
    assert post_chunked(proxy.port, [at_limit, b" "]) == (413, "payload_too_large")

    def refused() -> list[dict]:  # logged once nginx has read and dropped the rest of the body
        return [line for line in proxy.log_lines() if line["status"] == 413]

    wait_until(lambda: len(refused()) == 2, 10, what="both 413s in nginx's log")
    assert all(line["upstream"] == "" for line in refused()), "nginx passed a body over the limit"


SCORE_LIMIT = Settings.model_fields["max_score_bytes"].default


def test_the_dashboard_is_served_through_nginx(proxy, api):
    """Pages, their files and the redirect pass as the API sends them, headers included."""
    status, headers, _ = http("GET", proxy.url + "/")  # followed to /ui
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    direct = http("GET", api.url + "/ui")[1]
    assert headers["Content-Security-Policy"] == direct["Content-Security-Policy"]
    for path in ("/ui/models/diabetes", "/ui/jobs", "/ui/train", "/ui/static/ui.js"):
        assert http("GET", proxy.url + path)[0] == 200, path


def test_a_csv_to_score_has_its_own_limit_through_nginx(proxy, api):
    """A CSV over the JSON limit is scored through nginx; over the scoring limit, nginx refuses
    it with the API's own answer, and a JSON body keeps the JSON limit (the test above)."""
    note = "x" * 1000  # wide rows: past 8 MiB in a few thousand of them
    rows = ["0,1,0," + note] * (LIMIT // 1000 + 100)
    body = ("smoking,obesity,exercise,note\n" + "\n".join(rows) + "\n").encode()
    assert LIMIT < len(body) < SCORE_LIMIT
    headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
    status, answer_headers, answer = http("POST", proxy.url + "/models/diabetes/predict", body,
                                          headers, timeout=60)  # fmt: skip
    assert status == 200 and answer_headers["X-Rows"] == str(len(rows))
    assert answer.startswith(b"smoking,obesity,exercise,note,label,probability_0,probability_1\n")
    over = announce_body(proxy.port, SCORE_LIMIT + 1, "text/csv")
    direct = announce_body(api.port, SCORE_LIMIT + 1, "text/csv")
    _same_answer(over, direct)
    assert over[0] == 413 and str(SCORE_LIMIT) in over[2]["error"]


def announce_body(port: int, length: int, kind: str = "application/json") -> tuple[int, dict, dict]:
    """POST /predict headers saying `length` bytes follow, send none; return the answer."""
    conn = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("POST", "/predict")
        conn.putheader("Content-Type", kind)
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        response = conn.getresponse()
        return response.status, dict(response.headers), json.loads(response.read())
    finally:
        conn.close()


def post_chunked(port: int, chunks: list[bytes]) -> tuple[int, str]:
    """POST /predict with a chunked body (no Content-Length); return the status and error code."""
    conn = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/predict",
            iter(chunks),
            {"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())["code"]
    finally:
        conn.close()


def test_request_ids_are_shared_by_client_nginx_and_api(proxy, api):
    given = "client-id.1:2"
    status, headers, _ = http("POST", proxy.url + "/predict", ROW, {"X-Request-ID": given})
    assert status == 200 and headers["X-Request-ID"] == given
    # None given, or one the API would not take: nginx makes one and the API keeps it.
    made = [
        http("POST", proxy.url + "/predict", ROW, headers)[1]["X-Request-ID"]
        for headers in ({}, {"X-Request-ID": "bad id!"})
    ]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in made), made

    def in_both_logs() -> bool:  # each logs a request once its answer is sent
        logged = {line["request_id"] for line in proxy.log_lines()}
        return {given, *made} <= logged and all(
            f'"request_id":"{rid}"' in api.output() for rid in (given, *made)
        )

    wait_until(in_both_logs, 10, what="the request ids in nginx's and the API's access logs")


def test_nginx_own_errors_have_the_api_shape(tmp_path):
    """No replica answers: 503 in the error shape, with the request id."""
    with_no_api = Nginx(tmp_path / "nginx", free_port())
    try:
        answer = http("GET", with_no_api.url + "/models", headers={"X-Request-ID": "r-1"})
    finally:
        with_no_api.stop()
    status, headers, body = answer
    assert status == 503 and headers["Content-Type"] == "application/json"
    assert body == {
        "error": "no API replica answered",
        "code": "unavailable",
        "details": [],
        "request_id": "r-1",
    }
    assert headers["X-Request-ID"] == "r-1" and headers["X-Content-Type-Options"] == "nosniff"


def test_without_a_proxy_the_worker_timeout_frees_held_workers_and_logs_why(tmp_path, store):
    """gunicorn alone (no proxy): NNS_TIMEOUT frees a worker a slow client holds, and says why.

    One slow connection of each kind takes one of three sync workers. The reader's answer must
    not fit in the kernel's socket buffers (a sender's grows to tcp_wmem's maximum, 4 MiB by
    default), so its batch is sized from that: 150,000 rows (6.7 MB) or more.
    """
    wmem_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    rows = max(150_000, int(1.5 * wmem_max / len(json.dumps(ROW))))
    limits = {"NNS_MAX_BATCH": str(rows), "NNS_MAX_BODY_BYTES": str(60 * rows)}
    api = Gunicorn(tmp_path, workers=3, NNS_TIMEOUT="4", NNS_LOG_LEVEL="INFO", **limits)
    attack = None
    try:
        api.wait_ready()
        argv = [sys.executable, str(ROOT / "scripts" / "slow_clients.py"), api.url, "--json"]
        argv += ["--slow", "3", "--rows", str(rows), "--drip", "0.5", "--hold", "60"]
        attack = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def causes() -> dict[str, dict]:
            lines = [json.loads(s) for s in api.output().splitlines() if '"cause"' in s]
            return {line["cause"]: line for line in lines}

        wait_until(lambda: {"headers", "body", "response"} <= set(causes()), 40, what="causes")
        attack.kill()
        attack.wait(10)

        def predicts() -> bool:  # the replaced workers serve once the slow clients are gone
            try:
                return http("POST", api.url + "/predict", ROW, timeout=5)[0] == 200
            except OSError:
                return False

        wait_until(predicts, 30, what="a prediction after the slow clients went")
    finally:
        if attack is not None and attack.poll() is None:
            attack.kill()
        api.stop()
    for cause, line in causes().items():
        assert line["level"] == "ERROR" and "after 4 s (NNS_TIMEOUT)" in line["message"]
        assert re.fullmatch(r"127\.0\.0\.1:\d+", line["client"]), line
        if cause != "headers":  # the request line was read: which request, and its id
            assert (line["method"], line["path"]) == ("POST", "/predict"), line
            assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"]), line
    assert "WORKER TIMEOUT" in api.output()
