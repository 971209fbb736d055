"""FastPredict answers plainly valid predictions before Flask, with the bytes Flask would send."""

from __future__ import annotations

import json

import pytest

from tests.support.predict_bodies import DIABETES, MOONS

PATHS = {
    "diabetes": ["/predict", "/models/diabetes/predict", "/models/diabetes/versions/1/predict"],
    "moons": ["/models/moons/predict", "/models/moons/versions/1/predict"],
}
CASES = [(p, b) for p in PATHS["diabetes"] for b in DIABETES]
CASES += [(p, b) for p in PATHS["moons"] for b in MOONS]
CASES += [("/models/nope/predict", DIABETES[0]), ("/models/Bad/predict", DIABETES[0])]
CASES += [("/models/diabetes/versions/9/predict", DIABETES[0]), ("/predict/", DIABETES[0])]


def send(client, path: str, body):
    raw = body if isinstance(body, bytes) else body.encode()
    return client.post(path, data=raw, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(("path", "body"), CASES)
def test_the_fast_path_answers_exactly_as_flask(app, client, path, body):
    fast = send(client, path, body)
    app.wsgi_app.fast = None  # Flask alone
    slow = send(client, path, body)
    assert (fast.status_code, fast.data) == (slow.status_code, slow.data) or (
        fast.status_code == slow.status_code and fast.json.keys() == slow.json.keys()
        and fast.json["code"] == slow.json["code"]  # error bodies differ only in request ids
    ), (path, body)  # fmt: skip
    for name in ("Content-Type", "Content-Length", "X-Content-Type-Options", "Cache-Control"):
        assert fast.headers.get(name) == slow.headers.get(name), name


def test_plain_requests_skip_flask_and_the_rest_reach_it(app, client, monkeypatch):
    def broken(*args, **kwargs):
        raise AssertionError("Flask's view was called")

    monkeypatch.setitem(app.view_functions, "predict.predict_current", broken)
    ok = send(client, "/models/moons/predict", json.dumps({"x1": 0.5, "x2": 1}))
    assert ok.status_code == 200 and ok.json["model"] == "moons"
    odd = send(client, "/models/moons/predict", '{"x1": 0.5, "x2": "1"}')  # not plain: Flask
    assert odd.status_code == 500  # the view that refuses to run proves Flask answered


def _count(client, line: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    return sum(float(x.rsplit(" ", 1)[1]) for x in text.splitlines() if x.startswith(line))


def test_fast_answers_are_counted_by_route(client):
    route = 'nns_http_requests_total{endpoint="/models/<name>/predict",method="POST",status="200"}'
    rows = 'nns_predictions_total{model="moons",version="1"}'
    before = _count(client, route), _count(client, rows)
    for _ in range(3):
        send(client, "/models/moons/predict", '{"x1": 0, "x2": 1}')
    assert (_count(client, route), _count(client, rows)) == (before[0] + 3, before[1] + 3)
