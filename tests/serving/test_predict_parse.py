"""Predictor.parse reads plain batches without pydantic: same matrices, same errors."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from pydantic import ValidationError

from service.errors import ServiceError as ApiError
from service.errors import from_validation
from tests.support.predict_bodies import DIABETES, MOONS


def _reference(predictor, body: bytes):
    """Return what parse returned before the shortcut: the union's result or its ApiError."""
    try:
        data = predictor.request.validate_json(body)
    except ValidationError as exc:
        return from_validation(exc, strip=1)
    single = "instances" not in data
    rows = [data] if single else data["instances"]
    return np.array([list(r.values()) for r in rows], dtype=np.float64), single


def _parse(predictor, body: bytes):
    try:
        return predictor.parse(body)
    except ApiError as err:
        return err


@pytest.mark.parametrize(
    ("model", "body"), [("diabetes", b) for b in DIABETES] + [("moons", b) for b in MOONS]
)
def test_parse_matches_the_union_validator(app, model, body):
    predictor = app.extensions["nns.registry"].get(model)
    raw = body if isinstance(body, bytes) else body.encode()
    want, got = _reference(predictor, raw), _parse(predictor, raw)
    if isinstance(want, ApiError):
        assert isinstance(got, ApiError), body
        assert (got.status, got.message, got.code) == (want.status, want.message, want.code)
        assert got.details == want.details
    else:
        assert not isinstance(got, ApiError), got.details
        assert got[1] == want[1] and got[0].dtype == np.float64
        assert got[0].tobytes() == want[0].tobytes()


def test_the_examples_cover_both_outcomes_and_both_shapes(app):
    predictor = app.extensions["nns.registry"].get("diabetes")
    outcomes = [_reference(predictor, b if isinstance(b, bytes) else b.encode()) for b in DIABETES]
    ok = [o for o in outcomes if not isinstance(o, ApiError)]
    assert {single for _, single in ok} == {True, False}
    assert {o.status for o in outcomes if isinstance(o, ApiError)} == {400, 422}


ODD_VALUES = ["true", "null", '"1"', "2", "0.5", "-0.0", "1.0", "1e400", "NaN", "[]", "{}", "-1"]


def _mutant(rng: random.Random) -> str:
    """Return a batch body with one random defect, or none, written as JSON text."""
    rows = [[rng.randint(0, 1) for _ in range(3)] for _ in range(rng.randint(1, 4))]
    texts = [dict(zip(("smoking", "obesity", "exercise"), r, strict=True)) for r in rows]
    parts = [json.dumps(t) for t in texts]
    i = rng.randrange(len(parts))
    kind = rng.randrange(6)
    if kind == 0:  # one odd value
        key = rng.choice(("smoking", "obesity", "exercise"))
        parts[i] = parts[i].replace(
            f'"{key}": {texts[i][key]}', f'"{key}": {rng.choice(ODD_VALUES)}'
        )
    elif kind == 1:  # a missing or an extra key
        parts[i] = parts[i].replace('"obesity"', rng.choice(('"age"', '"smoking"')))
    elif kind == 2:  # a row that is not an object
        parts[i] = rng.choice(("[0, 1, 0]", '"abc"', "3", "null"))
    body = '{"instances": [' + ", ".join(parts) + "]}"
    if kind == 3:  # something beside "instances"
        body = body[:-1] + ', "x": 1}'
    return body


def test_random_batches_parse_like_the_union(app):
    predictor = app.extensions["nns.registry"].get("diabetes")
    rng = random.Random(7)
    for _ in range(400):
        raw = _mutant(rng).encode()
        want, got = _reference(predictor, raw), _parse(predictor, raw)
        if isinstance(want, ApiError):
            assert isinstance(got, ApiError) and got.details == want.details, raw
        else:
            assert not isinstance(got, ApiError) and got[0].tobytes() == want[0].tobytes(), raw
