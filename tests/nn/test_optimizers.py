"""Optimizer updates against hand-written reference formulas."""

import numpy as np
import pytest

from service.nn import SGD, Adam


def _problem() -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    rng = np.random.default_rng(0)
    params = {"a.W": rng.normal(size=(3, 2)), "a.b": rng.normal(size=2)}
    grads = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(4)]
    return params, grads


def test_sgd_with_momentum_matches_reference() -> None:
    params, grads = _problem()
    expected = {k: v.copy() for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    opt = SGD(0.1, momentum=0.9)
    for g in grads:
        opt.step(params, g)
        for k in expected:
            velocity[k] = 0.9 * velocity[k] + g[k]
            expected[k] = expected[k] - 0.1 * velocity[k]
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-12)
    assert set(opt.velocity) == set(params)  # state is keyed by parameter name


def test_adam_matches_reference() -> None:
    params, grads = _problem()
    expected = {k: v.copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    opt = Adam(0.01)
    for t, g in enumerate(grads, start=1):
        opt.step(params, g)
        for k in expected:
            m[k] = 0.9 * m[k] + 0.1 * g[k]
            v[k] = 0.999 * v[k] + 0.001 * g[k] ** 2
            m_hat, v_hat = m[k] / (1 - 0.9**t), v[k] / (1 - 0.999**t)
            expected[k] = expected[k] - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    for k in params:
        np.testing.assert_allclose(params[k], expected[k], rtol=1e-10)
    assert set(opt.m) == set(opt.v) == set(params)


def test_step_changes_only_the_params_it_is_given() -> None:
    params, grads = _problem()
    frozen = grads[0]["a.b"].copy()
    SGD(0.5).step(params, grads[0])
    np.testing.assert_array_equal(grads[0]["a.b"], frozen)  # gradients are left untouched


@pytest.mark.parametrize("make", [lambda: SGD(0.0), lambda: SGD(0.1, momentum=-0.1),
                                  lambda: Adam(-1.0)])  # fmt: skip
def test_bad_hyperparameters_are_refused(make) -> None:
    with pytest.raises(ValueError):
        make()
