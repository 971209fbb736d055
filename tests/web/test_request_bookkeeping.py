"""Every response, routed or not, carries the request id and is counted and timed by route."""

from __future__ import annotations

import re
import uuid

ROW = {"smoking": 0, "obesity": 1, "exercise": 0}


def _value(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.findall(rf"^{name}\{{{re.escape(want)}\}} ([0-9.e+]+)$", text, re.M)
    return sum(float(v) for v in found)


def test_unrouted_and_routed_requests_are_counted_and_timed(client):
    before = client.get("/metrics").get_data(as_text=True)
    for _ in range(3):
        assert client.post("/predict", json=ROW).status_code == 200
    missing = client.get("/no/such/page", headers={"X-Request-ID": "trace-7"})
    wrong = client.delete("/predict")
    after = client.get("/metrics").get_data(as_text=True)

    assert missing.status_code == 404 and missing.headers["X-Request-ID"] == "trace-7"
    assert missing.get_json()["request_id"] == "trace-7"
    assert wrong.status_code == 405 and len(wrong.headers["X-Request-ID"]) == 32
    assert wrong.get_json()["request_id"] == wrong.headers["X-Request-ID"]

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    requests = "nns_http_requests_total"
    assert grew(requests, endpoint="/predict", method="POST", status="200") == 3
    assert grew(requests, endpoint="unmatched", method="GET", status="404") == 1
    assert grew(requests, endpoint="unmatched", method="DELETE", status="405") == 1
    assert grew("nns_http_request_duration_seconds_count", endpoint="/predict") == 3
    assert grew("nns_http_request_duration_seconds_count", endpoint="unmatched") == 2


def test_generated_request_ids_are_distinct_uuid4_hex(client):
    ids = [client.get("/health/live").headers["X-Request-ID"] for _ in range(50)]
    assert len(set(ids)) == 50
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert parsed.hex == value and parsed.version == 4 and parsed.variant == uuid.RFC_4122
