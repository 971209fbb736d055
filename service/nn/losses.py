"""Losses computed from logits, each with its gradient with respect to the logits.

Working from logits (the output layer BEFORE its activation) is what makes these stable:
the output activation and the loss are fused, so no probability is ever rounded to 0 or 1
and then fed to a log. Targets are already shaped like the logits (see ``train.py``):
bce (n, k) of 0/1, cce (n, k) one-hot rows, mse (n, k) floats.
"""

from collections.abc import Callable

import numpy as np

from .activations import sigmoid

LOSSES = ("bce", "mse", "cce")

# The output activation whose composition with each loss the fused formulas assume.
OUTPUT_FOR_LOSS = {"bce": "sigmoid", "cce": "softmax", "mse": "identity"}


def bce(z: np.ndarray, t: np.ndarray) -> float:
    """Return mean binary cross-entropy of sigmoid(z) against t. z, t: (n, k)."""
    # max(z,0) - z*t + log1p(exp(-|z|)) equals -t*log(s) - (1-t)*log(1-s) for s = sigmoid(z)
    # but never evaluates exp of a positive number nor log of 0.
    per = np.maximum(z, 0.0) - z * t + np.log1p(np.exp(-np.abs(z)))
    return float(per.sum()) / z.size


def bce_grad(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Return d bce / dz = (sigmoid(z) - t) / z.size. z, t: (n, k)."""
    dz = sigmoid(z)
    dz -= t
    dz *= 1.0 / z.size
    return dz


def bce_value_and_grad(z: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
    """Return (bce(z, t), bce_grad(z, t)) sharing exp(-|z|). z, t: (n, k)."""
    # Called once per training step: written as few whole-array passes as possible, and with
    # sum()/dot instead of mean(), whose Python-level wrapper costs more than the arithmetic.
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    per = np.log1p(e)
    per += np.maximum(z, 0.0)
    value = (float(per.sum()) - float(np.dot(z.ravel(), t.ravel()))) / z.size
    dz = np.where(z >= 0, 1.0, e)
    e += 1.0
    dz /= e
    dz -= t
    dz *= 1.0 / z.size
    return value, dz


def mse(z: np.ndarray, t: np.ndarray) -> float:
    """Return the mean squared error over all elements. z, t: (n, k)."""
    d = z - t
    return float(np.mean(d * d))


def mse_grad(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Return d mse / dz = 2 (z - t) / z.size. z, t: (n, k)."""
    d = z - t
    d *= 2.0 / z.size
    return d


def mse_value_and_grad(z: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
    """Return (mse(z, t), mse_grad(z, t)). z, t: (n, k)."""
    d = z - t
    value = float(np.dot(d.ravel(), d.ravel())) / z.size
    d *= 2.0 / z.size
    return value, d


def _log_softmax(z: np.ndarray) -> np.ndarray:
    s = z - z.max(axis=1, keepdims=True)
    s -= np.log(np.exp(s).sum(axis=1, keepdims=True))
    return s


def cce(z: np.ndarray, t: np.ndarray) -> float:
    """Return mean categorical cross-entropy of softmax(z) against rows t. z, t: (n, k)."""
    # log-sum-exp with the row max subtracted: exact and overflow-free.
    return float(-(t * _log_softmax(z)).sum() / z.shape[0])


def cce_grad(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Return d cce / dz = (softmax(z) - t) / n. z, t: (n, k)."""
    dz = np.exp(_log_softmax(z))
    dz -= t
    dz *= 1.0 / z.shape[0]
    return dz


def cce_value_and_grad(z: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
    """Return (cce(z, t), cce_grad(z, t)) sharing the log-softmax. z, t: (n, k)."""
    logp = _log_softmax(z)
    value = float(-(t * logp).sum() / z.shape[0])
    dz = np.exp(logp)
    dz -= t
    dz *= 1.0 / z.shape[0]
    return value, dz


ValueFn = Callable[[np.ndarray, np.ndarray], float]
GradFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
ValueAndGradFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]

FUNCTIONS: dict[str, tuple[ValueFn, GradFn, ValueAndGradFn]] = {
    "bce": (bce, bce_grad, bce_value_and_grad),
    "mse": (mse, mse_grad, mse_value_and_grad),
    "cce": (cce, cce_grad, cce_value_and_grad),
}


def get(name: str) -> tuple[ValueFn, GradFn, ValueAndGradFn]:
    """Return the (value, grad, value_and_grad) functions for a loss name."""
    if name not in FUNCTIONS:
        raise ValueError(f"unknown loss {name!r}; expected one of {LOSSES}")
    return FUNCTIONS[name]
