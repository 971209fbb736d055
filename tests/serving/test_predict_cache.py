"""Single rows of an all-0/1 model are answered from a per-version cache: same answers, exactly."""

from __future__ import annotations

import itertools
import time

import numpy as np

from tests.conftest import train

FEATURES = ("smoking", "obesity", "exercise")
ROWS = [dict(zip(FEATURES, bits, strict=True)) for bits in itertools.product((0, 1), repeat=3)]


def _network(app, version: int) -> list[float]:
    predictor = app.extensions["nns.registry"].get("diabetes", version)
    X = np.array([[r[f] for f in FEATURES] for r in ROWS], dtype=np.float64)
    return [
        predictor.net.predict(predictor.scaler.transform(X[i : i + 1]))[0, 0].item()
        for i in range(len(ROWS))
    ]


def _singles(client) -> list[dict]:
    return [client.post("/predict", json=row).get_json() for row in ROWS]


def test_repeated_rows_get_the_networks_answer_every_time(app, client):
    first, again = _singles(client), _singles(client)
    assert first == again
    assert [a["probability"] for a in first] == _network(app, 1)
    assert [a["label"] for a in first] == [int(p >= 0.5) for p in _network(app, 1)]


def test_a_new_version_answers_with_its_own_weights(app, client, store):
    before = _singles(client)
    train(store, epochs=50, seed=7)  # version 2 becomes current
    time.sleep(0.06)  # the reload interval of the test settings
    after = _singles(client)
    assert {a["version"] for a in after} == {2}
    assert [a["probability"] for a in after] == _network(app, 2)
    assert [a["probability"] for a in after] != [b["probability"] for b in before]
