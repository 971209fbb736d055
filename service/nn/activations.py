"""Element-wise activations and their backward passes, written for preallocated buffers.

Every backward is expressed through the activation's OUTPUT ``a`` (not its input), so a layer
only has to keep the array it already returned. That limits the engine to activations whose
derivative is a function of their output (sigmoid, tanh, relu, identity, softmax): a
non-monotonic one such as GELU or swish cannot be added here without making `layers.Activation`
keep its input too. All functions accept ``out=`` so the training loop can reuse buffers instead
of allocating one array per step.

`REGISTRY` is the one list of activations: the network, the initialisation, the training spec's
choices (hidden layers), the CLI and the tests all read it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np


def _out(x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    return np.empty_like(x) if out is None else out


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Apply the logistic function without overflow. z: any shape; returns same shape."""
    out = _out(z, out)
    # exp(-|z|) is in (0, 1], so it can never overflow; the two branches below are the
    # usual 1/(1+e^-z) and e^z/(1+e^z) rewritten in terms of it, both exact in the tails.
    # One temporary for e and 1 + e, one for the numerator (out may be z itself).
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    numerator = np.where(z >= 0, 1.0, e)
    e += 1.0
    np.divide(numerator, e, out=out)
    return out


def sigmoid_backward(a: np.ndarray, da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Return da * a * (1 - a) given the sigmoid output a. a, da: same shape."""
    out = _out(a, out)
    np.subtract(1.0, a, out=out)
    out *= a
    out *= da
    return out


def tanh(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Apply the hyperbolic tangent. z: any shape; returns same shape."""
    return np.tanh(z, out=_out(z, out))


def tanh_backward(a: np.ndarray, da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Return da * (1 - a**2) given the tanh output a. a, da: same shape."""
    out = _out(a, out)
    np.multiply(a, a, out=out)
    np.subtract(1.0, out, out=out)
    out *= da
    return out


def relu(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Apply max(z, 0). z: any shape; returns same shape."""
    return np.maximum(z, 0.0, out=_out(z, out))


def relu_backward(a: np.ndarray, da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Return da where the relu output a is positive, else 0. a, da: same shape."""
    out = _out(a, out)
    # The comparison written straight into the float buffer is the cheapest 0/1 mask: no bool
    # temporary, and faster than np.sign or a bool-times-float multiply.
    np.greater(a, 0.0, out=out)
    out *= da
    return out


def identity(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Return z unchanged (copied into out when given). z: any shape."""
    if out is None:
        return z.copy()
    np.copyto(out, z)
    return out


def identity_backward(a: np.ndarray, da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Return da (copied into out when given). a, da: same shape."""
    if out is None:
        return da
    np.copyto(out, da)
    return out


def softmax(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Apply softmax over the last axis, shifted by the row max. z: (n, k); returns (n, k)."""
    out = _out(z, out)
    # Subtracting the row max keeps exp() <= 1: no overflow for any finite logits.
    np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def softmax_backward(a: np.ndarray, da: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Return the softmax Jacobian-vector product a * (da - sum(da * a)). a, da: (n, k)."""
    out = _out(a, out)
    np.subtract(da, (da * a).sum(axis=-1, keepdims=True), out=out)
    out *= a
    return out


Forward = Callable[..., np.ndarray]
Backward = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Activation:
    """One activation: its passes, the weight initialisation suited to the layer before it,
    and whether hidden layers may use it (softmax mixes a row: an output activation only)."""

    forward: Forward
    backward: Backward
    init: Literal["glorot", "he"] = "glorot"
    hidden: bool = True


REGISTRY: dict[str, Activation] = {
    "sigmoid": Activation(sigmoid, sigmoid_backward),
    "tanh": Activation(tanh, tanh_backward),
    "relu": Activation(relu, relu_backward, init="he"),
    "identity": Activation(identity, identity_backward),
    "softmax": Activation(softmax, softmax_backward, hidden=False),
}
ACTIVATIONS = tuple(REGISTRY)
HIDDEN_ACTIVATIONS = tuple(name for name, a in REGISTRY.items() if a.hidden)


def get(name: str) -> Activation:
    """Return the named activation."""
    if name not in REGISTRY:
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
    return REGISTRY[name]
