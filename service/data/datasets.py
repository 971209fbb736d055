"""The built-in datasets: the diabetes seed table, XOR and two moons."""

from __future__ import annotations

import math

import numpy as np

from .dataset import Dataset, DatasetError

BUILTIN = ("diabetes", "xor", "moons")
MOONS_SAMPLES, MOONS_NOISE = 500, 0.2  # moons' defaults everywhere (CLI, HTTP, jobs)

# The product's seed table: smoking, obesity, exercise -> diabetic.
DIABETES_FEATURES = ["smoking", "obesity", "exercise"]
DIABETES_ROWS = [
    [0, 1, 0, 1],
    [0, 0, 1, 0],
    [1, 0, 0, 0],
    [1, 1, 0, 1],
    [1, 1, 1, 1],
]


def diabetes() -> Dataset:
    """Return the five-row diabetes table."""
    table = np.asarray(DIABETES_ROWS, dtype=np.float64)
    return Dataset.numeric(list(DIABETES_FEATURES), "diabetic", table[:, :3], table[:, 3])


def xor() -> Dataset:
    """Return the four XOR rows."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return Dataset.numeric(["x1", "x2"], "y", X, np.array([0.0, 1.0, 1.0, 0.0]))


def make_moons(
    n_samples: int = MOONS_SAMPLES, noise: float = MOONS_NOISE, *, seed: int = 0
) -> Dataset:
    """Return two interleaving half circles with Gaussian noise, as scikit-learn draws them."""
    if n_samples < 2:
        raise DatasetError("moons needs at least 2 samples")
    if not (math.isfinite(noise) and noise >= 0):
        raise DatasetError("moons noise must be a finite number >= 0")
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    X = np.vstack(
        [
            np.column_stack([np.cos(outer), np.sin(outer)]),
            np.column_stack([1 - np.cos(inner), 1 - np.sin(inner) - 0.5]),
        ]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    X += rng.normal(scale=noise, size=X.shape)
    order = rng.permutation(n_samples)
    return Dataset.numeric(["x1", "x2"], "label", X[order], y[order])


def builtin(
    name: str, *, samples: int = MOONS_SAMPLES, noise: float = MOONS_NOISE, seed: int = 0
) -> Dataset:
    """Return the built-in dataset called `name`."""
    if name == "diabetes":
        return diabetes()
    if name == "xor":
        return xor()
    if name == "moons":
        return make_moons(samples, noise, seed=seed)
    raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(BUILTIN)}")
