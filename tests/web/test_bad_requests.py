"""A table of hostile and broken requests, each with its status and error code."""

from __future__ import annotations

import json

import pytest

JSON = "application/json"
ROW = '{"smoking": 0, "obesity": 1, "exercise": 0}'


def rows(n: int) -> str:
    return '{"instances": [' + ",".join([ROW] * n) + "]}"


# (id, method, path, body, content type, status, code, loc of the first detail or None)
CASES = [
    (
        "wrong content type",
        "POST",
        "/predict",
        ROW,
        "text/plain",
        415,
        "unsupported_media_type",
        None,
    ),
    (
        "form content type",
        "POST",
        "/predict",
        "smoking=0",
        "application/x-www-form-urlencoded",
        415,
        "unsupported_media_type",
        None,
    ),
    ("no content type", "POST", "/predict", ROW, None, 415, "unsupported_media_type", None),
    ("broken json", "POST", "/predict", '{"smoking": 0,', JSON, 400, "bad_request", None),
    ("empty body", "POST", "/predict", "", JSON, 400, "bad_request", None),
    ("not utf-8", "POST", "/predict", b"\xff\xfe{}", JSON, 400, "bad_request", None),
    (
        "NaN literal",
        "POST",
        "/predict",
        '{"smoking": NaN, "obesity": 1, "exercise": 0}',
        JSON,
        422,
        "validation_error",
        ["smoking"],
    ),
    (
        "Infinity literal",
        "POST",
        "/predict",
        '{"smoking": 0, "obesity": Infinity, "exercise": 0}',
        JSON,
        422,
        "validation_error",
        ["obesity"],
    ),
    (
        "-Infinity numeric",
        "POST",
        "/models/moons/predict",
        '{"x1": -Infinity, "x2": 0}',
        JSON,
        422,
        "validation_error",
        ["x1"],
    ),
    (
        "NaN numeric",
        "POST",
        "/models/moons/predict",
        '{"x1": 0.5, "x2": NaN}',
        JSON,
        422,
        "validation_error",
        ["x2"],
    ),
    (
        "huge number",
        "POST",
        "/models/moons/predict",
        '{"x1": 1e400, "x2": 0}',
        JSON,
        422,
        "validation_error",
        ["x1"],
    ),
    (
        "string for number",
        "POST",
        "/predict",
        '{"smoking": "0", "obesity": 1, "exercise": 0}',
        JSON,
        422,
        "validation_error",
        ["smoking"],
    ),
    (
        "string for numeric",
        "POST",
        "/models/moons/predict",
        '{"x1": "0.5", "x2": 0}',
        JSON,
        422,
        "validation_error",
        ["x1"],
    ),
    (
        "2 for a 0/1 feature",
        "POST",
        "/predict",
        '{"smoking": 2, "obesity": 1, "exercise": 0}',
        JSON,
        422,
        "validation_error",
        ["smoking"],
    ),
    (
        "-1 for a 0/1 feature",
        "POST",
        "/predict",
        '{"smoking": 0, "obesity": -1, "exercise": 0}',
        JSON,
        422,
        "validation_error",
        ["obesity"],
    ),
    (
        "0.5 for a 0/1 feature",
        "POST",
        "/predict",
        '{"smoking": 0.5, "obesity": 1, "exercise": 0}',
        JSON,
        422,
        "validation_error",
        ["smoking"],
    ),
    (
        "boolean for 0/1",
        "POST",
        "/predict",
        '{"smoking": true, "obesity": 1, "exercise": 0}',
        JSON,
        422,
        "validation_error",
        ["smoking"],
    ),
    (
        "boolean for numeric",
        "POST",
        "/models/moons/predict",
        '{"x1": false, "x2": 0}',
        JSON,
        422,
        "validation_error",
        ["x1"],
    ),
    (
        "null value",
        "POST",
        "/predict",
        '{"smoking": null, "obesity": 1, "exercise": 0}',
        JSON,
        422,
        "validation_error",
        ["smoking"],
    ),
    (
        "nested object",
        "POST",
        "/predict",
        '{"smoking": {"v": 0}, "obesity": 1, "exercise": 0}',
        JSON,
        422,
        "validation_error",
        ["smoking"],
    ),
    (
        "list value",
        "POST",
        "/predict",
        '{"smoking": [0], "obesity": 1, "exercise": 0}',
        JSON,
        422,
        "validation_error",
        ["smoking"],
    ),
    (
        "missing field",
        "POST",
        "/predict",
        '{"smoking": 0, "obesity": 1}',
        JSON,
        422,
        "validation_error",
        ["exercise"],
    ),
    (
        "extra field",
        "POST",
        "/predict",
        '{"smoking": 0, "obesity": 1, "exercise": 0, "age": 40}',
        JSON,
        422,
        "validation_error",
        ["age"],
    ),
    ("empty object", "POST", "/predict", "{}", JSON, 422, "validation_error", None),
    ("top-level array", "POST", "/predict", f"[{ROW}]", JSON, 422, "validation_error", None),
    ("top-level number", "POST", "/predict", "3", JSON, 422, "validation_error", None),
    (
        "empty batch",
        "POST",
        "/predict",
        '{"instances": []}',
        JSON,
        422,
        "validation_error",
        ["instances"],
    ),
    (
        "instances not a list",
        "POST",
        "/predict",
        '{"instances": {"smoking": 0}}',
        JSON,
        422,
        "validation_error",
        ["instances"],
    ),
    (
        "bad row in batch",
        "POST",
        "/predict",
        '{"instances": [' + ROW + ', {"smoking": 0, "obesity": 3, "exercise": 0}]}',
        JSON,
        422,
        "validation_error",
        ["instances", 1, "obesity"],
    ),
    (
        "extra key beside instances",
        "POST",
        "/predict",
        '{"instances": [' + ROW + '], "x": 1}',
        JSON,
        422,
        "validation_error",
        ["x"],
    ),
    (
        "batch over the limit",
        "POST",
        "/predict",
        rows(51),
        JSON,
        422,
        "validation_error",
        ["instances"],
    ),
    ("body over the limit", "POST", "/predict", rows(2000), JSON, 413, "payload_too_large", None),
    ("unknown model", "POST", "/models/nosuch/predict", ROW, JSON, 404, "not_found", None),
    (
        "unknown version",
        "POST",
        "/models/diabetes/versions/99/predict",
        ROW,
        JSON,
        404,
        "not_found",
        None,
    ),
    (
        "version zero",
        "POST",
        "/models/diabetes/versions/0/predict",
        ROW,
        JSON,
        404,
        "not_found",
        None,
    ),
    (
        "version not a number",
        "POST",
        "/models/diabetes/versions/latest/predict",
        ROW,
        JSON,
        404,
        "not_found",
        None,
    ),
    (
        "version with leading zero",
        "GET",
        "/models/diabetes/versions/01",
        None,
        None,
        404,
        "not_found",
        None,
    ),
    ("dot-dot in name", "POST", "/models/../predict", ROW, JSON, 404, "not_found", None),
    ("encoded dot-dot", "POST", "/models/%2e%2e/predict", ROW, JSON, 404, "not_found", None),
    ("encoded slash", "GET", "/models/..%2f..%2fetc", None, None, 404, "not_found", None),
    ("upper-case name", "GET", "/models/Diabetes", None, None, 404, "not_found", None),
    ("hidden name", "GET", "/models/.tmp", None, None, 404, "not_found", None),
    ("overlong name", "GET", "/models/" + "a" * 65, None, None, 404, "not_found", None),
    ("unknown path", "GET", "/nothing/here", None, None, 404, "not_found", None),
    ("GET on predict", "GET", "/predict", None, None, 405, "method_not_allowed", None),
    ("DELETE a model", "DELETE", "/models/diabetes", None, None, 405, "method_not_allowed", None),
    (
        "promote without token",
        "PUT",
        "/models/diabetes/current",
        '{"version": 1}',
        JSON,
        401,
        "unauthorized",
        None,
    ),
]


@pytest.mark.parametrize(
    "method,path,body,ctype,status,code,loc", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_request(client, method, path, body, ctype, status, code, loc):
    data = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": ctype} if ctype else {}
    resp = client.open(path, method=method, data=data, headers=headers)
    assert resp.status_code == status, resp.get_data(as_text=True)
    err = resp.get_json()
    assert set(err) == {"error", "code", "details", "request_id"}
    assert isinstance(err["error"], str) and err["error"]
    assert err["code"] == code
    assert err["request_id"] == resp.headers["X-Request-ID"]
    if loc is not None:
        assert err["details"][0]["loc"] == loc
    for detail in err["details"]:
        assert set(detail) == {"loc", "msg", "type"}
    # Submitted values and invalid names never come back in the answer (its random request id,
    # which can hold "aaaa" by chance, aside).
    text = json.dumps({k: v for k, v in err.items() if k != "request_id"}, ensure_ascii=False)
    sent = (data or b"").decode("utf-8", "replace") + path
    for token in ("NaN", "Infinity", "1e400", '"0.5"', '"0"', "..", "etc", "Diabetes", "aaaa"):
        if token in sent:
            assert token not in text
