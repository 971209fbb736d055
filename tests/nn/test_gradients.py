"""Finite-difference checks (central differences, float64) of every backward pass."""

import numpy as np
import pytest

from service.nn import ACTIVATIONS, LOSSES, MLP, OUTPUT_FOR_LOSS, activations, losses
from service.nn.layers import Activation, Dense

from .helpers import numeric_grad, rel_error

TOL = 1e-6


def test_dense_gradients() -> None:
    rng = np.random.default_rng(0)
    layer = Dense(rng.normal(size=(3, 4)), rng.normal(size=4))
    X = rng.normal(size=(5, 3))
    R = rng.normal(size=(5, 4))  # random upstream gradient: checks the full Jacobian product

    def f() -> float:
        return float(np.sum(R * layer.forward(X)))

    f()
    dX = layer.backward(R).copy()
    assert rel_error(layer.dW, numeric_grad(f, layer.W)) < TOL
    assert rel_error(layer.db, numeric_grad(f, layer.b)) < TOL
    assert rel_error(dX, numeric_grad(f, X)) < TOL


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_gradients(name: str) -> None:
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(6, 4)) * 2
    if name == "relu":
        Z[np.abs(Z) < 0.1] = 0.5  # the kink at 0 has no derivative for differences to find
    R = rng.normal(size=(6, 4))
    act = Activation(name, 4, np.dtype("float64"))

    def f() -> float:
        return float(np.sum(R * act.forward(Z)))

    f()
    dZ = act.backward(R).copy()
    assert rel_error(dZ, numeric_grad(f, Z)) < TOL


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_without_out_matches_with_out(name: str) -> None:
    rng = np.random.default_rng(2)
    fn, back = activations.get(name).forward, activations.get(name).backward
    A = fn(rng.normal(size=(3, 5)))
    dA = rng.normal(size=(3, 5))
    np.testing.assert_array_equal(back(A, dA), back(A, dA, out=np.empty_like(A)))


def _targets(name: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    if name == "bce":
        return rng.integers(0, 2, size=shape).astype(float)
    if name == "cce":
        return np.eye(shape[1])[rng.integers(0, shape[1], size=shape[0])]
    return rng.normal(size=shape)


@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradients(name: str) -> None:
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(7, 3)) * 3
    T = _targets(name, rng, Z.shape)
    value, grad, value_and_grad = losses.get(name)

    numeric = numeric_grad(lambda: value(Z, T), Z)
    assert rel_error(grad(Z, T), numeric) < TOL
    fused_value, fused_grad = value_and_grad(Z, T)
    assert fused_value == pytest.approx(value(Z, T), rel=1e-12)
    assert rel_error(fused_grad, numeric) < TOL


def test_losses_match_their_definitions() -> None:
    rng = np.random.default_rng(4)
    Z = rng.normal(size=(6, 3))
    T = (rng.random((6, 3)) > 0.5).astype(float)
    p = 1 / (1 + np.exp(-Z))
    bce = -np.mean(T * np.log(p) + (1 - T) * np.log(1 - p))
    assert losses.bce(Z, T) == pytest.approx(bce, rel=1e-12)
    onehot = np.eye(3)[[0, 2, 1, 1, 0, 2]]
    soft = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    assert losses.cce(Z, onehot) == pytest.approx(-np.mean(np.log(soft[onehot == 1])), rel=1e-12)
    assert losses.mse(Z, T) == pytest.approx(np.mean((Z - T) ** 2), rel=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_mlp_end_to_end_gradients(activation: str, loss: str) -> None:
    rng = np.random.default_rng(5)
    n_out = 3 if loss == "cce" else 2
    net = MLP(3, [5, 4], n_out, activation=activation, output=OUTPUT_FOR_LOSS[loss], rng=rng)
    X = rng.normal(size=(8, 3))
    T = _targets(loss, rng, (8, n_out))
    value, grad, _ = losses.get(loss)

    logits = net.forward(X)
    if activation == "relu":
        # Finite differences are only meaningful away from relu's kink: check no hidden
        # pre-activation sits within reach of the perturbation.
        A = X
        for layer in net.dense[:-1]:
            pre = layer.apply(A)
            assert np.abs(pre).min() > 1e-4
            A = np.maximum(pre, 0.0)
    net.backward(grad(logits, T))
    analytic = net.gradient_vector().copy()
    numeric = numeric_grad(lambda: value(net.forward(X), T), net.parameter_vector())
    assert rel_error(analytic, numeric) < TOL
    # The per-parameter dict views are the same numbers as the flat vector.
    for key, g in net.gradients().items():
        assert g.shape == net.parameters()[key].shape
    assert sum(g.size for g in net.gradients().values()) == analytic.size


def test_perceptron_gradients() -> None:
    rng = np.random.default_rng(6)
    net = MLP(3, [], 1, rng=rng)
    X = rng.normal(size=(5, 3))
    T = rng.integers(0, 2, size=(5, 1)).astype(float)
    net.backward(losses.bce_grad(net.forward(X), T))
    numeric = numeric_grad(lambda: losses.bce(net.forward(X), T), net.parameter_vector())
    assert rel_error(net.gradient_vector(), numeric) < TOL
