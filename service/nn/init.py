"""Weight initialisation drawn from an explicit np.random.Generator (never the global one)."""

import numpy as np

from . import activations


def glorot_uniform(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """Draw W: (n_in, n_out) from U(-a, a) with a = sqrt(6 / (n_in + n_out))."""
    # Keeps the variance of activations and gradients about equal across layers for
    # activations that are roughly linear around 0 (sigmoid, tanh, identity).
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out))


def he_normal(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """Draw W: (n_in, n_out) from N(0, 2 / n_in)."""
    # relu zeroes half its inputs on average, so the variance needs doubling to compensate.
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))


def weights_for(activation: str, rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """Draw W: (n_in, n_out) with the scheme suited to the activation that follows the layer."""
    scheme = SCHEMES[activations.get(activation).init]
    return scheme(rng, n_in, n_out)


SCHEMES = {"glorot": glorot_uniform, "he": he_normal}
