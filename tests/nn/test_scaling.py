"""Standardizer: statistics, constant columns and the JSON round trip."""

import json

import numpy as np
import pytest

from service.nn import Standardizer


def test_transform_gives_zero_mean_unit_std() -> None:
    X = np.random.default_rng(0).normal([5.0, -2.0, 100.0], [1.0, 0.01, 30.0], size=(500, 3))
    Z = Standardizer.fit(X).transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0)


def test_constant_column_gets_scale_one() -> None:
    X = np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0]])
    scaler = Standardizer.fit(X)
    assert scaler.scale[1] == 1.0
    Z = scaler.transform(X)
    np.testing.assert_array_equal(Z[:, 1], 0.0)
    assert np.isfinite(scaler.transform([[0.0, 1e9]])).all()


def test_json_round_trip_and_inverse() -> None:
    X = np.random.default_rng(1).normal(size=(20, 4)) * 3 + 1
    scaler = Standardizer.fit(X)
    d = json.loads(json.dumps(scaler.to_dict()))
    assert set(d) == {"mean", "scale"} and all(isinstance(v, list) for v in d.values())
    clone = Standardizer.from_dict(d)
    assert clone.transform(X).tobytes() == scaler.transform(X).tobytes()
    np.testing.assert_allclose(clone.inverse_transform(clone.transform(X)), X)


@pytest.mark.parametrize(
    "bad",
    [
        {"mean": [0.0, 1.0], "scale": [1.0]},
        {"mean": [0.0], "scale": [0.0]},
        {"mean": [float("nan")], "scale": [1.0]},
        {"mean": [0.0]},
        [0.0, 1.0],
    ],
)
def test_from_dict_rejects_bad_input(bad) -> None:
    with pytest.raises(ValueError):
        Standardizer.from_dict(bad)


def test_fit_and_transform_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="NaN"):
        Standardizer.fit([[1.0, np.nan]])
    with pytest.raises(ValueError, match="shape"):
        Standardizer.fit([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        Standardizer.fit([[1.0, 2.0]]).transform([[1.0, 2.0, 3.0]])
