"""Security properties: no code-executing formats, names checked before any file access, the
token compared in constant time on every secured operation, no debug mode whatever the
environment, safe headers on every response, and limits that hold at their boundary.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import sys
import tomllib
import uuid
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.debug import DebuggedApplication

from service.jobs.queue import JsonSerializer, make_huey
from service.settings import Settings, get_settings
from service.web.app import create_app
from service.web.auth import is_secured
from service.web.openapi import operations as app_operations
from tests.support.api import ONE, TOKEN
from tests.support.harness import Gunicorn, http, train_cli
from tests.support.training import ROWS

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "service", ROOT / "model_store", ROOT / "scripts"]


def shipped_sources() -> list[Path]:
    files = [p for d in SHIPPED for p in d.rglob("*") if p.suffix in (".py", ".sh")]
    return [*files, ROOT / "Dockerfile"]


# --- no pickle or other code-executing formats ---------------------------------------------------

FORBIDDEN = {
    "pickle-family module": (
        r"^\s*(import|from)\s+(c?pickle|_pickle|dill|cloudpickle|joblib|shelve|marshal)\b"
    ),
    "allow_pickle=True": r"allow_pickle\s*=\s*True",
    "eval or exec": r"(?<![\w.])(eval|exec)\s*\(",
    "yaml.load without SafeLoader": r"yaml\.(unsafe_load|full_load|load)\s*\((?![^)]*SafeLoader)",
    "pandas or torch pickles": r"(read_pickle|to_pickle|torch\.load)\s*\(",
    "np.load without allow_pickle=False": r"np\.load\((?!.*allow_pickle=False)",
    "a shell": r"shell\s*=\s*True|os\.system\s*\(|os\.popen\s*\(",
    "the Werkzeug debugger": r"DebuggedApplication|use_debugger|\.run\([^)]*debug|debug\s*=\s*True",
}
BAD_LINES = {
    "pickle-family module": "import pickle",
    "allow_pickle=True": "np.load(f, allow_pickle=True)",
    "eval or exec": "value = eval(text)",
    "yaml.load without SafeLoader": "yaml.load(stream)",
    "pandas or torch pickles": "pd.read_pickle(path)",
    "np.load without allow_pickle=False": "np.load(path)",
    "a shell": "subprocess.run(cmd, shell=True)",
    "the Werkzeug debugger": "app.run(debug=True)",
}


def test_the_patterns_catch_what_they_name():
    for name, pattern in FORBIDDEN.items():
        assert re.search(pattern, BAD_LINES[name], re.MULTILINE), name
    assert not re.search(
        FORBIDDEN["np.load without allow_pickle=False"],
        "np.load(io.BytesIO(b), allow_pickle=False)",
    )
    assert not re.search(FORBIDDEN["yaml.load without SafeLoader"], "yaml.safe_load(s)")
    assert not re.search(FORBIDDEN["eval or exec"], "os.execv(a, b); model.evaluate(x)")


def test_no_code_executing_format_or_call_in_the_shipped_code():
    sources = shipped_sources()
    assert len(sources) > 30
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources
        for name, pattern in FORBIDDEN.items()
        if re.search(pattern, path.read_text(), re.MULTILINE)
    ]
    assert found == []


def test_no_pickling_library_among_the_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = [*project["dependencies"], *sum(project["optional-dependencies"].values(), [])]
    names = {re.split(r"[\[<>=~ ]", d, maxsplit=1)[0].lower() for d in deps}
    assert not names & {"joblib", "dill", "cloudpickle", "pickle5", "torch", "pandas"}


def test_the_job_queue_never_uses_huey_default_pickle_serializer(tmp_path):
    huey = make_huey(Settings(data_dir=tmp_path))
    assert isinstance(huey.serializer, JsonSerializer)


# --- names, versions and job ids are checked before any file access -----------------------------

_ACCESSED: list[str] | None = None
FILE_EVENTS = {"open", "os.listdir", "os.scandir", "os.mkdir", "os.rename", "os.remove"}


def _audit(event: str, args: tuple) -> None:
    if _ACCESSED is not None and event in FILE_EVENTS and args:
        path = args[0]
        if isinstance(path, str | bytes | os.PathLike):
            _ACCESSED.append(os.fsdecode(path))


if not getattr(sys, "_nns_audit_installed", False):  # hooks cannot be removed: install once
    sys.addaudithook(_audit)
    sys._nns_audit_installed = True  # type: ignore[attr-defined]


@pytest.fixture
def accessed(monkeypatch):
    """Record every path opened, listed, created, renamed, removed or stat-ed meanwhile."""
    global _ACCESSED
    _ACCESSED = []
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if isinstance(path, str | bytes | os.PathLike):
            _ACCESSED.append(os.fsdecode(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    try:
        yield _ACCESSED
    finally:
        _ACCESSED = None


# Each bad name holds "zq": no path touched while refusing it may contain that.
BAD_NAMES = [
    "ZQX",
    ".zq",
    "-zq",
    "zq..",
    "zq x",
    "zq\x00",
    "zqé",
    "zq" + "x" * 63,
    "zq;ls",
    "zq\\..",
    "../zq",
]
NAME_REQUESTS = [
    ("GET", "/models/{}", None),
    ("GET", "/models/{}/versions/1", None),
    ("GET", "/models/{}/versions", None),
    ("GET", "/ui/models/{}", None),
    ("GET", "/ui/models/{}/versions/1", None),
    ("POST", "/models/{}/predict", ONE),
    ("POST", "/models/{}/versions/1/predict", ONE),
    ("PUT", "/models/{}/current", {"version": 1}),
    ("GET", "/v2/models/{}", None),
    ("GET", "/v2/models/{}/ready", None),
    ("GET", "/v2/models/{}/versions/1", None),
    ("POST", "/v2/models/{}/infer", {"inputs": []}),
]


def _quoted(text: str) -> str:
    """Percent-encode all but ASCII letters, digits and -._ (a "/" travels as %2F)."""
    keep = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")
    return "".join(c if c in keep else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_model_names_are_refused_before_any_file_access(client, auth, accessed, name):
    for method, template, body in NAME_REQUESTS:
        resp = client.open(template.format(_quoted(name)), method=method, json=body, headers=auth)
        assert resp.status_code == 404, (method, template, resp.json)
        assert name not in resp.get_data(as_text=True)
    for body in ({"model": name, "dataset": "xor"}, {"model": name, "rows": ROWS, "target": "y"}):
        resp = client.post("/train", json=body, headers=auth)
        assert resp.status_code == 422 and resp.json["details"][0]["loc"] == ["model"]
    resp = client.post(
        f"/train?model={_quoted(name)}&target=y",
        data="a,y\n0,0\n1,1\n",
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert resp.status_code == 422 and resp.json["details"][0]["loc"] == ["model"]
    assert [p for p in accessed if "zq" in p.lower()] == []
    client.get("/models")  # the recorder works: listing the store is seen
    assert any(p.endswith("models") for p in accessed), accessed


BAD_VERSIONS = ["0", "-1", "01", "1.0", "1e2", "+1", "١", "9999999999", "1 ", "1\n", "..%2F1"]
VERSION_REQUESTS = [
    ("GET", "/models/diabetes/versions/{}", None),
    ("POST", "/models/diabetes/versions/{}/predict", ONE),
    ("GET", "/v2/models/diabetes/versions/{}", None),
    ("GET", "/v2/models/diabetes/versions/{}/ready", None),
    ("POST", "/v2/models/diabetes/versions/{}/infer", {"inputs": []}),
]


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_bad_versions_are_refused_before_any_file_access(client, accessed, version):
    for method, template, body in VERSION_REQUESTS:
        path = template.format(version if "%" in version else _quoted(version))
        resp = client.open(path, method=method, json=body)
        assert resp.status_code == 404, (path, resp.json)
    assert [p for p in accessed if f"diabetes{os.sep}{version}" in p] == []


@pytest.mark.parametrize("job_id", ["zq", "ZQ" * 16, "0" * 31 + "g", "0" * 33, "..%2F" * 3 + "x"])
def test_bad_job_ids_are_refused_before_any_lookup(client, auth, accessed, job_id):
    for method in ("GET", "DELETE"):
        resp = client.open(f"/train/jobs/{job_id}", method=method, headers=auth)
        assert resp.status_code == 404 and job_id not in resp.get_data(as_text=True)
    assert [p for p in accessed if job_id.lower() in p.lower()] == []


# --- the token: every secured operation, compared in constant time ------------------------------

ANONYMOUS_WRITES = {
    ("post", "/predict"),
    ("post", "/models/{name}/predict"),
    ("post", "/models/{name}/versions/{version}/predict"),
    ("post", "/v2/models/{name}/infer"),
    ("post", "/v2/models/{name}/versions/{version}/infer"),
}


def operations(client) -> list[tuple[str, str, dict]]:
    """Return (method, path, {"security": ...}) for every route of the app's URL map.

    The URL map, not the document: a route the document forgot is still tested here, and
    `test_the_document_describes_every_route_as_the_app_secures_it` fails on it.
    """
    app = client.application
    return [
        (method, path, {"security": [{"bearer": []}]} if is_secured(view) else {})
        for path, method, view, _ in app_operations(app)
    ]


def test_the_document_describes_every_route_as_the_app_secures_it(client):
    paths = client.get("/openapi.json").json["paths"]
    routes = operations(client)
    assert len(routes) >= 24
    for method, path, op in routes:
        assert method in paths.get(path, {}), f"{method.upper()} {path} is not in the document"
        assert paths[path][method].get("security") == op.get("security"), (method, path)
    assert len(routes) == sum(len(ops) for ops in paths.values())


def concrete(path: str) -> str:
    return path.format(name="diabetes", version="1", job_id=uuid.uuid4().hex, asset="ui.css")


def test_every_write_but_predictions_is_secured(client):
    secured = {(m, p) for m, p, op in operations(client) if op.get("security")}
    writes = {(m, p) for m, p, _ in operations(client) if m != "get"}
    assert secured == writes - ANONYMOUS_WRITES
    assert secured == {
        ("post", "/train"),
        ("post", "/train/preview"),
        ("put", "/models/{name}/current"),
        ("delete", "/train/jobs/{job_id}"),
    }


def test_every_secured_operation_compares_the_token_in_constant_time(client, monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    wrong = [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Bearer {TOKEN.upper()}"]
    for method, path, op in operations(client):
        if not op.get("security"):
            continue
        url = concrete(path)
        for header in [None, f"Basic {TOKEN}", TOKEN, *wrong]:
            headers = {"Authorization": header} if header else {}
            before = len(calls)
            resp = client.open(url, method=method, json={}, headers=headers)
            assert resp.status_code == 401 and resp.json["code"] == "unauthorized", (url, header)
            if header in wrong:
                assert len(calls) == before + 1, "compared without hmac.compare_digest"
        resp = client.open(
            url, method=method, json={}, headers={"Authorization": f"bearer {TOKEN}"}
        )
        assert resp.status_code not in (401, 503), (url, resp.json)


def test_without_a_configured_token_secured_operations_are_off(settings_dict):
    client = create_app({**settings_dict, "admin_token": None}).test_client()
    for method, path, op in operations(client):
        if op.get("security"):
            headers = {"Authorization": "Bearer anything"}
            resp = client.open(concrete(path), method=method, json={}, headers=headers)
            assert resp.status_code == 503 and resp.json["code"] == "admin_disabled"
            assert "NNS_ADMIN_TOKEN" in resp.json["error"]


# --- no debug mode, whatever the environment says ------------------------------------------------

DEBUG_ENV = {
    "FLASK_DEBUG": "1",
    "FLASK_ENV": "development",
    "FLASK_TESTING": "1",
    "WERKZEUG_DEBUG_PIN": "off",
    "NNS_DEBUG": "1",
    "NNS_FLASK_DEBUG": "1",
    "NNS_TESTING": "1",
}


def wsgi_chain(app: Flask) -> list:
    """Return every WSGI middleware wrapped around the app, outermost first."""
    chain, layer = [], app.wsgi_app
    while layer is not None and len(chain) < 20:
        chain.append(layer)
        layer = getattr(layer, "wsgi_app", None) or getattr(layer, "app", None)
    return chain


def test_debug_stays_off_whatever_the_environment(settings_dict, monkeypatch):
    for key, value in DEBUG_ENV.items():
        monkeypatch.setenv(key, value)
    assert not [f for f in Settings.model_fields if "debug" in f or "testing" in f]
    get_settings.cache_clear()
    try:
        for config in (settings_dict, None):
            app = create_app(config)
            assert app.debug is False and app.config["DEBUG"] is False
            assert app.testing is False and not app.config["PROPAGATE_EXCEPTIONS"]
            assert not [m for m in wsgi_chain(app) if isinstance(m, DebuggedApplication)]
    finally:
        get_settings.cache_clear()


@pytest.mark.process
def test_gunicorn_serves_no_debugger_with_flask_debug_set(tmp_path):
    train_cli(tmp_path / "models", "--epochs", "100")
    api = Gunicorn(tmp_path, tmp_path / "gunicorn.log", workers=1, **DEBUG_ENV)
    try:
        api.wait_ready()
        debugger = "?__debugger__=yes&cmd=resource&f=debugger.js"
        for path in (f"/console{debugger}", "/console"):
            status, headers, body = http("GET", api.url + path)
            assert status == 404 and body["code"] == "not_found", body
            assert headers["Content-Type"] == "application/json"
        status, headers, body = http("GET", api.url + f"/{debugger}")  # to the dashboard
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert b"<h1>Models</h1>" in body and b"debugger" not in body.lower()
        status, _, body = http("POST", api.url + "/predict", b"{", {"X-Request-ID": "dbg"})
        assert status == 400 and set(body) == {"error", "code", "details", "request_id"}
        assert "Traceback" not in api.output() and "Debugger" not in api.output()
    finally:
        api.stop()


# --- nosniff and no-store on every response ------------------------------------------------------


def test_every_response_says_nosniff_and_no_store(client, auth, settings_dict):
    ops = [(m, concrete(p)) for m, p, _ in operations(client)]
    job = {"model": "diabetes", "dataset": "diabetes", "hyperparameters": {"epochs": 5}}
    calls = [(client, m, p, {"json": {}, "headers": auth}) for m, p in ops]
    calls += [(client, m, p, {"json": {}}) for m, p in ops]  # 401 where secured
    calls += [
        (client, "POST", "/predict", {"json": ONE}),
        (client, "POST", "/train", {"json": job, "headers": auth}),  # 202
        (client, "POST", "/predict", {"json": {"instances": [ONE] * 60}}),  # 422: batch
        (client, "POST", "/predict", {"json": "x" * 70_000}),  # 413
        (client, "POST", "/predict", {"data": "{", "content_type": "text/plain"}),  # 415
        (client, "POST", "/predict", {"data": "{", "content_type": "application/json"}),  # 400
        (client, "GET", "/nowhere", {}),  # 404
        (client, "DELETE", "/predict", {}),  # 405
        (client, "POST", "/v2/models/diabetes/infer", {"json": {"inputs": "no"}}),  # V2 400
        (client, "GET", "/v2/models/nosuch/ready", {}),  # V2 404
    ]
    disabled = create_app({**settings_dict, "admin_token": None}).test_client()
    calls.append((disabled, "POST", "/train", {"json": job, "headers": auth}))  # 503
    seen = set()
    for c, method, path, kwargs in calls:
        resp = c.open(path, method=method, **kwargs)
        seen.add(resp.status_code)
        assert resp.headers["X-Content-Type-Options"] == "nosniff", (method, path)
        assert resp.headers["Cache-Control"] == "no-store", (method, path)
    assert {200, 202, 400, 401, 404, 405, 413, 415, 422, 503} <= seen, seen


# --- limits: refused just over, accepted at, and each set by its NNS_* variable -------------------


@pytest.fixture
def env_client(tmp_path, store, monkeypatch):
    """A client of create_app() configured only through the environment, as in production."""

    def make(**env: str):
        monkeypatch.setenv("NNS_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("NNS_MODEL_STORE", str(store.root))
        monkeypatch.setenv("NNS_ADMIN_TOKEN", TOKEN)
        monkeypatch.setenv("NNS_DEFAULT_MODEL", "diabetes")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        return create_app().test_client()

    yield make
    get_settings.cache_clear()


def padded(obj, size: int) -> bytes:
    """Return obj as JSON padded with spaces to exactly size bytes."""
    raw = json.dumps(obj).encode()
    return raw + b" " * (size - len(raw))


def train_body(**params) -> dict:
    return {"model": "diabetes", "rows": ROWS, "target": "diabetic", "hyperparameters": params}


TRAIN_LIMITS = [
    ("NNS_MAX_TRAIN_ROWS", "8", train_body(), train_body() | {"rows": [*ROWS, ROWS[0]]}),
    ("NNS_MAX_EPOCHS", "10", train_body(epochs=10), train_body(epochs=11)),
    ("NNS_MAX_LAYER_WIDTH", "5", train_body(hidden=[5]), train_body(hidden=[6])),
    ("NNS_MAX_LAYERS", "1", train_body(hidden=[2]), train_body(hidden=[2, 2])),
    ("NNS_JOB_TIMEOUT", "30", train_body() | {"timeout": 30}, train_body() | {"timeout": 31}),
]


@pytest.mark.parametrize("var,value,at,over", TRAIN_LIMITS)
def test_training_limits_hold_at_the_boundary(env_client, auth, var, value, at, over):
    client = env_client(**{var: value})
    resp = client.post("/train", json=over, headers=auth)
    assert resp.status_code == 422 and f"({var})" in resp.json["error"], resp.json
    resp = client.post("/train", json=at, headers=auth)
    assert resp.status_code == 202, resp.json


def test_body_and_batch_limits_hold_at_the_boundary(env_client):
    client = env_client(NNS_MAX_BODY_BYTES="2048", NNS_MAX_BATCH="3")
    json_type = {"Content-Type": "application/json"}
    assert client.post("/predict", data=padded(ONE, 2048), headers=json_type).status_code == 200
    resp = client.post("/predict", data=padded(ONE, 2049), headers=json_type)
    assert resp.status_code == 413 and "2048 bytes" in resp.json["error"]
    assert client.post("/predict", json={"instances": [ONE] * 3}).status_code == 200
    resp = client.post("/predict", json={"instances": [ONE] * 4})
    assert resp.status_code == 422 and resp.json["details"][0]["loc"] == ["instances"]
    tensor = {"name": "features", "datatype": "FP64", "shape": [4, 3], "data": [0.0] * 12}
    resp = client.post("/v2/models/diabetes/infer", json={"inputs": [tensor]})
    assert resp.status_code == 400 and "over the limit of 3" in resp.json["error"]
    tensor |= {"shape": [3, 3], "data": [0.0] * 9}
    assert client.post("/v2/models/diabetes/infer", json={"inputs": [tensor]}).status_code == 200
