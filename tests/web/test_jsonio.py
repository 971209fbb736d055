"""JSON bodies: NumPy values and non-string keys serialise; unsupported types still raise."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from service.web.jsonio import dumps, json_response


def test_numpy_values_and_int_keys_serialise():
    body = {"p": np.float64(0.25), "x": np.arange(3), 1: "one", "rows": [{"label": 1}]}
    want = {"p": 0.25, "x": [0, 1, 2], "1": "one", "rows": [{"label": 1}]}
    assert orjson.loads(dumps(body)) == want


def test_unsupported_types_raise_as_before():
    with pytest.raises(orjson.JSONEncodeError):
        dumps({"x": object()})
    with pytest.raises(orjson.JSONEncodeError):
        dumps({1: object()})


def test_json_response_has_status_and_type():
    resp = json_response({"ok": True}, 201, {"Location": "/x"})
    assert resp.status_code == 201 and resp.mimetype == "application/json"
    assert resp.headers["Location"] == "/x" and resp.get_data() == b'{"ok":true}'
