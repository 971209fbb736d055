"""Shared test helpers: finite differences and tiny seeded data generators."""

from collections.abc import Callable

import numpy as np


def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Return df/dx by central differences, perturbing x in place (and restoring it)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f()
        flat[i] = old - h
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Return ||a - b|| / (||a|| + ||b||), 0 when both are zero."""
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def make_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return X: (n, 2), y: (n,) of two interleaving half circles with gaussian noise."""
    a, b = n // 2, n - n // 2
    t1, t2 = np.linspace(0, np.pi, a), np.linspace(0, np.pi, b)
    X = np.vstack([np.c_[np.cos(t1), np.sin(t1)], np.c_[1 - np.cos(t2), 0.5 - np.sin(t2)]])
    y = np.r_[np.zeros(a), np.ones(b)]
    X += rng.normal(0.0, noise, X.shape)
    order = rng.permutation(n)
    return X[order], y[order]


def make_blobs(n_per: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return X: (3 n_per, 2), y: (3 n_per,) of three well separated gaussian blobs."""
    centres = np.array([[0.0, 3.0], [-3.0, -2.0], [3.0, -2.0]])
    X = np.vstack([c + rng.normal(0.0, 0.8, (n_per, 2)) for c in centres])
    y = np.repeat(np.arange(3), n_per)
    order = rng.permutation(len(y))
    return X[order], y[order]


# The engine's fit() has no defaults for the options that shape training (the training spec
# holds the service's); these are the tests' own, the settings the engine was first tuned with.
FIT = {"loss": "bce", "optimizer": "adam", "learning_rate": 0.05, "epochs": 2000}


def train(net, X, y, **options):
    """Call fit() with the tests' settings for whatever `options` leave out."""
    from service.nn import fit

    return fit(net, X, y, **{**FIT, **options})
