"""Every `$` command and python snippet of README.md, then of docs/interoperability.md, run in
order against `make serve`'s code.

The server is scripts/serve.py (what `make serve` runs: the default model trained into an empty
store, then gunicorn and the trainer) on a free port with a temporary data directory; commands
run under bash with the package's commands on the PATH, in a directory holding stand-ins for
the README's CSVs (standins.py). What a run must match is in examples.py. A command shown
without output must succeed; one whose output is `prog: error: ...` must fail. A read-only
`curl` (no -X, no data) or a prediction is repeated until it matches or 30 s pass: a job's state
moves on, and a new version is served within the reload interval.
The limits table's statuses are checked against the same server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path

import pytest

from service.settings import Settings
from service.training.spec import LIMIT_TEXT
from tests.support.harness import Proc, env_for, free_port, http, wait_until

from . import standins
from .examples import Example, Mismatch, examples, match_output, output_lines

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# Guide pages whose examples run after the README's, on the same server, in this order.
GUIDES = {page: (ROOT / page).read_text() for page in ("README.md", "docs/interoperability.md")}
TOKEN = "s3cret"  # the README's `export NNS_ADMIN_TOKEN=s3cret`
RETRY_FOR = 30.0  # seconds a read-only example may take to show what the README shows


class Server:
    def __init__(self, work: Path) -> None:
        self.work, self.port = work, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env_for(work / "data", PYTHONUNBUFFERED="1")  # output in terminal order
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env['PATH']}"
        self.ids: dict[str, str] = {}  # job ids shown in the README -> this run's

    def rewrite(self, command: str) -> str:
        command = command.replace("localhost:8000", f"127.0.0.1:{self.port}")
        for shown, actual in self.ids.items():
            command = command.replace(shown, actual)
        return command


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("readme")
    standins.penguins(work / "penguins.csv")
    standins.houses(work / "houses.csv")
    srv = Server(work)
    env = {**srv.env, "NNS_BIND": f"127.0.0.1:{srv.port}", "NNS_ADMIN_TOKEN": TOKEN}
    proc = Proc([sys.executable, str(ROOT / "scripts" / "serve.py")], env, work / "serve.log")

    def ready() -> bool:
        if not proc.alive():
            raise RuntimeError(f"make serve's process exited:\n{proc.output()[-3000:]}")
        try:
            return http("GET", srv.url + "/health/ready", timeout=2)[0] == 200
        except OSError:
            return False

    try:
        wait_until(ready, 60, what="scripts/serve.py to answer /health/ready")
        yield srv
    finally:
        proc.stop()


def _read_only(example: Example) -> bool:
    """Tell a curl that changes nothing: a GET, or a prediction or V2 infer (answered from a
    new version within NNS_RELOAD_INTERVAL of its training or promotion)."""
    command = example.command.strip()
    if not command.startswith("curl "):
        return False
    predict = re.search(r"-X POST \S+/(predict|infer)\b", command)  # with a query string too
    return predict is not None or not re.search(r"\s(-X|-d|--data\S*)\s", command)


def _run(srv: Server, example: Example) -> tuple[int, str]:
    if example.kind == "python":
        argv = [sys.executable, "-c", srv.rewrite(example.command)]
    else:
        argv = ["bash", "-c", srv.rewrite(example.command)]
    out = subprocess.run(  # one stream, in the order a terminal shows it; bytes keep the \r
        argv, cwd=srv.work, env=srv.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=120,
    )  # fmt: skip
    return out.returncode, out.stdout.decode(errors="replace")


def _check(srv: Server, example: Example, page: str = "README.md") -> None:
    export = re.fullmatch(r"export (\w+)=(\S+)", example.command.strip())
    if export:
        srv.env[export.group(1)] = export.group(2)
        return
    deadline = time.monotonic() + (RETRY_FOR if _read_only(example) else 0)
    while True:
        code, output = _run(srv, example)
        try:
            if (code != 0) != example.fails:
                raise Mismatch(f"exit status {code}")
            match_output(example.shown, output_lines(output), srv.ids)
            return
        except Mismatch as exc:
            if time.monotonic() >= deadline:
                shown = "\n".join(example.shown)
                raise AssertionError(
                    f"{page}:{example.line}: {exc}\n$ {example.command}\n"
                    f"--- shown\n{shown}\n--- got\n{output[-4000:]}"
                ) from None
        time.sleep(0.1)


def test_every_readme_example_runs_as_shown(server):
    found = examples(README)
    assert sum(e.command.startswith("curl") for e in found) >= 10, "the parser found no curls"
    assert any(e.command.startswith("nns-train") for e in found)
    assert TOKEN in README and f"export NNS_ADMIN_TOKEN={TOKEN}" in README
    for page, text in GUIDES.items():
        for example in examples(text):
            _check(server, example, page)


def test_every_route_is_in_the_readme_v2_in_interoperability(server):
    status, _, doc = http("GET", server.url + "/openapi.json")
    assert status == 200
    table = set()  # (method, path, token) of each row; a row may name several routes
    for routes, token in re.findall(
        r"^\| (`\w+ /\S*`(?:, `\w+ /\S*`)*) \|[^|]*\| (yes)? *\|$", README, re.M
    ):
        table |= {(method, path, token) for method, path in re.findall(r"`(\w+) (/\S*)`", routes)}
    v1 = set()
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if path.startswith("/v2"):
                listed = f"`{method.upper()} {path}`" in GUIDES["docs/interoperability.md"]
                assert listed, f"{method} {path} not in docs/interoperability.md"
            else:
                v1.add((method.upper(), path, "yes" if op.get("security") else ""))
    assert table == v1, f"README's table lacks {v1 - table}, has extra {table - v1}"


# -- the limits table, against the same server -------------------------------------------


def _limits() -> dict[str, str]:
    """Return the README limits table's `over it` column by setting name (max_batch, ...)."""
    block = README.split("<!-- limits:", 1)[1].split("<!-- end limits -->", 1)[0]
    rows = re.findall(r"^\| `NNS_(\w+)` \|.*\| ([^|]+) \|$", block, re.M)
    return {name.lower(): status.strip() for name, status in rows}


def _train(srv: Server, body, query: str = "", content_type: str = "application/json"):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type}
    return http("POST", f"{srv.url}/train{query}", body, headers, timeout=60)


def _post_large(
    srv: Server, path: str, body: bytes, kind: str = "application/json"
) -> tuple[int, dict, dict]:
    """POST a body the server may refuse before reading it all; return its answer."""
    conn = HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", kind)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(body)  # the answer may come, and the socket close, before the body is sent
        resp = conn.getresponse()
        return resp.status, dict(resp.headers), json.loads(resp.read())
    finally:
        conn.close()


def _over(srv: Server, name: str, limit: float) -> list[tuple[bool, tuple]]:
    """Send requests just over one limit; return (is it V2, (status, headers, body)) of each."""
    n = int(limit) + 1
    row = {"smoking": 0, "obesity": 1, "exercise": 0}
    if name == "max_body_bytes":
        return [(False, _post_large(srv, "/predict", b"{" + b" " * (n - 1)))]
    if name == "max_score_bytes":
        return [(False, _post_large(srv, "/predict", b"a" * n, "text/csv"))]
    if name == "max_batch":
        v2 = {"inputs": [{"name": "features", "shape": [n, 3], "datatype": "FP64",
                          "data": [0.0] * (3 * n)}]}  # fmt: skip
        return [
            (False, http("POST", srv.url + "/predict", {"instances": [row] * n})),
            (True, http("POST", srv.url + "/v2/models/diabetes/infer", v2)),
        ]
    spec = {"model": "diabetes", "dataset": "diabetes"}
    if name == "max_train_rows":
        rows = [{**row, "diabetic": 1}] * n
        csv = ("smoking,obesity,exercise,diabetic\n" + "0,1,0,1\n" * n).encode()
        return [
            (False, _train(srv, {"model": "limits", "dataset": "moons", "samples": n})),
            (False, _train(srv, {"model": "diabetes", "rows": rows, "target": "diabetic"})),
            (False, _train(srv, csv, "?model=diabetes&target=diabetic", "text/csv")),
        ]
    hyper = {"max_epochs": {"epochs": n}, "max_layer_width": {"hidden": [n]},
             "max_layers": {"hidden": [4] * n}}  # fmt: skip
    if name in hyper:
        return [(False, _train(srv, {**spec, "hyperparameters": hyper[name]}))]
    if name == "job_timeout":
        return [(False, _train(srv, {**spec, "timeout": n}))]
    raise AssertionError(f"no probe for NNS_{name.upper()} in tests/readme/test_examples.py")


WORDS = {"max_train_rows": "rows", "max_epochs": "epochs", "max_layers": "layers",
         "max_layer_width": "width", "job_timeout": "timeout"}  # fmt: skip


def test_each_limit_answers_as_the_table_says(server):
    """Each answer has the table's status and names the limit (training limits: the spec's words,
    except that a CSV body's row limit has its own: "the CSV has more than N rows")."""
    for name, over_it in _limits().items():
        if name == "timeout":
            continue  # not an HTTP answer: test_gunicorn_takes_its_timeout_from_the_settings
        shown = re.fullmatch(r"(\d{3})(?: \(V2: (\d{3})\))?", over_it)
        assert shown, f"NNS_{name.upper()}: cannot read {over_it!r}"
        expected = [int(s) for s in shown.groups() if s]
        limit = Settings.model_fields[name].default  # the server runs with the defaults
        for v2, (status, _, body) in _over(server, name, limit):
            assert status == expected[-1 if v2 else 0], (name, status, body)
            assert str(int(limit)) in json.dumps(body), (name, body)  # all are whole numbers
            if name in WORDS and "CSV" not in body["error"]:
                assert LIMIT_TEXT[WORDS[name]].format(limit) in json.dumps(body), (name, body)


def test_gunicorn_takes_its_timeout_from_the_settings(tmp_path):
    env = env_for(tmp_path, NNS_TIMEOUT="7")
    code = "import service.web.gunicorn_conf as c; print(c.timeout)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "7", out.stderr
    assert _limits()["timeout"] == "worker restarted"
