"""Predictor.parse reads plain batches without pydantic: same matrices, same errors."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from pydantic import ValidationError

from service.errors import ServiceError as ApiError
from service.errors import from_validation

ROW = '{"smoking": 0, "obesity": 1, "exercise": 0}'
DIABETES = [
    ROW,
    ' \n{ "exercise" : 1 , "smoking":1,"obesity" :0 }\t',
    '{"smoking": 1.0, "obesity": -0.0, "exercise": 1e0}',
    '{"smoking": 0, "smoking": 1, "obesity": 1, "exercise": 0}',
    '{"smoking": 0, "obesity": 1, "exercise": 0, "instances": []}',
    '{"smoking": 0, "obesity": 1, "exercise": "instances"}',
    '{"smoking": 0, "obesity": 1}',
    '{"smoking": 0, "obesity": 1, "exercise": 0, "age": 3}',
    '{"smoking": 2, "obesity": 1, "exercise": 0}',
    '{"smoking": 0.5, "obesity": 1, "exercise": 0}',
    '{"smoking": true, "obesity": 1, "exercise": 0}',
    '{"smoking": "1", "obesity": 1, "exercise": 0}',
    '{"smoking": null, "obesity": 1, "exercise": 0}',
    '{"smoking": NaN, "obesity": 1, "exercise": 0}',
    '{"smoking": Infinity, "obesity": 1, "exercise": 0}',
    '{"smoking": [0], "obesity": 1, "exercise": 0}',
    f'{{"instances": [{ROW}, {ROW}]}}',
    '{"instances": [{"smoking": 1.0, "obesity": -0.0, "exercise": 0.0}]}',
    '{"instances": [{"smoking": true, "obesity": 0, "exercise": 0}]}',
    '{"instances": [{"smoking": 1, "obesity": 0, "exercise": 1.5}]}',
    f'{{"\\u0069nstances": [{ROW}]}}',
    f'{{"instances": [{ROW}], "instances": [{ROW}, {ROW}]}}',
    f'{{"instances": [{ROW}], "extra": 1}}',
    f'{{"instances": [{ROW}, {{"smoking": 0}}]}}',
    f'{{"instances": [{ROW}, {{"smoking": 0, "obesity": 1, "exercise": 7}}]}}',
    f'{{"instances": [{ROW}, [0, 1, 0]]}}',
    f'{{"instances": [{ROW}, "row"]}}',
    '{"instances": []}',
    '{"instances": {}}',
    '{"instances": null}',
    f'{{"instances": [{ROW}]' + "]",
    f'{{"instances": [{", ".join([ROW] * 51)}]}}',
    f"[{ROW}]",
    '"instances"',
    "{}",
    "",
    "null",
    "{",
    '{"smoking": 0, "obesity": 1, "exercise": 0} {}',
    b'{"smoking": 0, "obesity": 1, "exercise": 0, "\xff": 1}',
]
MOONS = [
    '{"instances": [{"x1": 18446744073709551615, "x2": -9223372036854775808}]}',
    '{"instances": [{"x1": 18446744073709551616, "x2": 0}]}',
    '{"instances": [{"x1": 9007199254740993, "x2": 5e-324}, {"x1": -0.0, "x2": 1e308}]}',
    '{"instances": [{"x1": 1.7976931348623157e308, "x2": 1e309}]}',
    '\ufeff{"instances": [{"x1": 1, "x2": 2}]}',
    '{"x1": 0.25, "x2": -1}',
    '{"x1": 1e308, "x2": -1e-300}',
    '{"x1": 1e309, "x2": 0}',
    '{"x1": 12345678901234567890123, "x2": 0}',
    '{"x1": -0, "x2": 0.1}',
    '{"x1": "0.1", "x2": 0}',
    '{"instances": [{"x1": 0.25, "x2": -1}, {"x2": 3, "x1": 4.5}]}',
    '{"instances": [{"x1": 0.25, "x2": -1}, {"x1": false, "x2": 0}]}',
    '{"instances": [{"x1": 0.25, "x2": -1}, {"x1": -Infinity, "x2": 0}]}',
]


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
