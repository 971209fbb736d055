"""The multi-layer perceptron: a stack of Dense layers with activations in between.

All parameters live in ONE contiguous vector (and all gradients in another) that the layers
see through views. The per-layer dicts are still the interface, but an optimizer can also be
handed the whole vector and update every parameter with a handful of ufunc calls instead of
a handful per parameter, which is most of a small network's step time.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import activations
from .activations import ACTIVATIONS
from .init import weights_for
from .layers import Activation, Dense

DTYPES = ("float64", "float32")


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class MLP:
    """Fully connected network; ``forward`` returns logits, ``predict`` applies the output."""

    def __init__(
        self,
        n_inputs: int,
        hidden: Sequence[int],
        n_outputs: int,
        *,
        activation: str = "sigmoid",
        output: str = "sigmoid",
        rng: np.random.Generator | None = None,
        dtype: str = "float64",
    ) -> None:
        """Build layers n_inputs -> *hidden -> n_outputs and draw weights from rng.

        hidden=[] gives a perceptron (a single Dense layer). rng=None leaves the weights
        unset; the network refuses to run until ``set_weights`` is called (see from_config).
        """
        self.n_inputs = _check_int("n_inputs", n_inputs, 1)
        self.n_outputs = _check_int("n_outputs", n_outputs, 1)
        if isinstance(hidden, str | bytes) or not isinstance(hidden, Sequence):
            raise ValueError(f"hidden must be a sequence of layer widths, got {hidden!r}")
        self.hidden = [_check_int("hidden layer width", h, 1) for h in hidden]
        for name, value in (("activation", activation), ("output", output)):
            if value not in ACTIVATIONS:
                raise ValueError(f"unknown {name} {value!r}; expected one of {ACTIVATIONS}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        self.activation, self.output, self.dtype = activation, output, dtype
        self._output_fn = activations.get(output).forward

        sizes = [self.n_inputs, *self.hidden, self.n_outputs]
        shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
        # Layout: every W first, then every b, so the weight-decay target (W only) is one slice.
        self.n_weights = sum(i * o for i, o in shapes)
        total = self.n_weights + sum(o for _, o in shapes)
        self._theta = np.zeros(total, dtype=dtype)
        self._grad = np.zeros(total, dtype=dtype)

        self.layers: list[Dense | Activation] = []
        self.dense: list[Dense] = []
        w_at, b_at = 0, self.n_weights
        for k, (n_in, n_out) in enumerate(shapes):
            w_end, b_end = w_at + n_in * n_out, b_at + n_out
            layer = Dense(
                self._theta[w_at:w_end].reshape(n_in, n_out),
                self._theta[b_at:b_end],
                self._grad[w_at:w_end].reshape(n_in, n_out),
                self._grad[b_at:b_end],
                needs_input_grad=k > 0,
            )
            w_at, b_at = w_end, b_end
            self.dense.append(layer)
            self.layers.append(layer)
            if k < len(shapes) - 1:
                self.layers.append(Activation(activation, n_out, self._theta.dtype))

        self._initialised = rng is not None
        if rng is not None:
            for k, layer in enumerate(self.dense):
                follows = output if k == len(self.dense) - 1 else activation
                layer.W[...] = weights_for(follows, rng, layer.n_in, layer.n_out)

    # -- computation -------------------------------------------------------------------

    def _check_input(self, X: Any) -> np.ndarray:
        if not self._initialised:
            raise RuntimeError("weights are not set: pass rng= or call set_weights()")
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"X must have shape (n, {self.n_inputs}), got {X.shape}")
        return X

    def _forward(self, X: np.ndarray) -> np.ndarray:
        # Training path: X already validated and cast; returns a reused buffer.
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def forward(self, X: Any) -> np.ndarray:
        """Return logits (before the output activation) and cache for backward.

        X: (n, n_inputs) -> (n, n_outputs).
        """
        return self._forward(self._check_input(X)).copy()

    def backward(self, dZ: np.ndarray) -> None:
        """Fill gradients from dZ: (n, n_outputs), the loss gradient w.r.t. the logits."""
        dZ = np.asarray(dZ, dtype=self.dtype)
        cached = self.dense[-1]._X
        if cached is None or dZ.shape != (cached.shape[0], self.n_outputs):
            raise ValueError(f"dZ shape {dZ.shape} does not match the last forward pass")
        self._backward(dZ)

    def _backward(self, dZ: np.ndarray) -> None:
        for layer in reversed(self.layers):
            dZ = layer.backward(dZ)

    def logits(self, X: Any) -> np.ndarray:
        """Return logits without caching. X: (n, n_inputs) -> (n, n_outputs)."""
        X = self._check_input(X)
        for layer in self.layers:
            X = layer.apply(X)
        return X

    def predict(self, X: Any) -> np.ndarray:
        """Return outputs after the output activation. X: (n, n_inputs) -> (n, n_outputs)."""
        Z = self.logits(X)
        return self._output_fn(Z, out=Z)  # logits() returned a fresh array: reuse it

    def class_indices(self, outputs: np.ndarray) -> np.ndarray:
        """Return the predicted class index per row of predict()'s outputs: (n, n_outputs) -> (n,).

        Sigmoid: 1 where P(1) >= 0.5; softmax: the most probable class.
        """
        if self.output == "sigmoid":
            return (outputs[:, 0] >= 0.5).astype(np.int64)
        if self.output == "softmax":
            return outputs.argmax(axis=1)
        raise ValueError(f"output {self.output!r} does not predict classes")

    def class_index(self, output: list[float]) -> int:
        """Return class_indices() for one row given as a list: the same rule, without NumPy.

        A single-row prediction spends more time in NumPy's per-call overhead than in maths.
        """
        if self.output == "sigmoid":
            return int(output[0] >= 0.5)
        if self.output == "softmax":
            return output.index(max(output))  # the first maximum, as argmax
        raise ValueError(f"output {self.output!r} does not predict classes")

    # -- parameters --------------------------------------------------------------------

    def parameters(self) -> dict[str, np.ndarray]:
        """Return the live parameter arrays keyed "dense0.W", "dense0.b", ..."""
        return {f"dense{k}.{n}": a for k, d in enumerate(self.dense) for n, a in d.params.items()}

    def gradients(self) -> dict[str, np.ndarray]:
        """Return the live gradient arrays, same keys as parameters()."""
        return {f"dense{k}.{n}": a for k, d in enumerate(self.dense) for n, a in d.grads.items()}

    def parameter_vector(self) -> np.ndarray:
        """Return the live flat vector every parameter is a view of: (n_parameters,)."""
        return self._theta

    def gradient_vector(self) -> np.ndarray:
        """Return the live flat gradient vector, same layout: (n_parameters,)."""
        return self._grad

    def get_weights(self) -> dict[str, np.ndarray]:
        """Return copies of the parameters, same keys as parameters()."""
        return {k: v.copy() for k, v in self.parameters().items()}

    def set_weights(self, weights: dict[str, Any]) -> None:
        """Copy weights into the parameters; ValueError on missing/extra keys or bad shapes."""
        params = self.parameters()
        if not isinstance(weights, dict) or set(weights) != set(params):
            got = sorted(weights) if isinstance(weights, dict) else type(weights).__name__
            raise ValueError(f"weights must have exactly the keys {sorted(params)}, got {got}")
        arrays = {}
        for key, dst in params.items():
            src = np.asarray(weights[key], dtype=self.dtype)
            if src.shape != dst.shape:
                raise ValueError(f"{key} must have shape {dst.shape}, got {src.shape}")
            arrays[key] = src
        # Validate everything before copying anything, so a failure leaves the net unchanged.
        for key, dst in params.items():
            np.copyto(dst, arrays[key])
        self._initialised = True

    def n_parameters(self) -> int:
        """Return the number of trainable scalars."""
        return int(self._theta.size)

    # -- description -------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Return the JSON-serialisable architecture (no weights)."""
        return {
            "n_inputs": self.n_inputs,
            "hidden": list(self.hidden),
            "n_outputs": self.n_outputs,
            "activation": self.activation,
            "output": self.output,
            "dtype": self.dtype,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], weights: dict[str, Any]) -> "MLP":
        """Rebuild a network from config() and get_weights() output."""
        required = {"n_inputs", "hidden", "n_outputs", "activation", "output"}
        if not isinstance(config, dict) or not required <= set(config):
            raise ValueError(f"config must be a dict with keys {sorted(required)} (+ dtype)")
        net = cls(
            config["n_inputs"],
            config["hidden"],
            config["n_outputs"],
            activation=config["activation"],
            output=config["output"],
            dtype=config.get("dtype", "float64"),
        )
        net.set_weights(weights)
        return net

    def summary(self) -> str:
        """Return a table of layers, output shapes and parameter counts."""
        rows = [("layer", "output shape", "params")]
        k = 0
        for layer in self.layers:
            if isinstance(layer, Dense):
                rows.append((f"dense{k}", f"(n, {layer.n_out})", str(layer.W.size + layer.b.size)))
                k += 1
            else:
                rows.append((f"  {layer.name}", rows[-1][1], "0"))
        rows.append((f"  {self.output} (output)", f"(n, {self.n_outputs})", "0"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
        rule = "-" * len(lines[0])
        return "\n".join(
            [lines[0], rule, *lines[1:], rule, f"total parameters: {self.n_parameters()}"]
        )

    def __repr__(self) -> str:
        return (
            f"MLP({self.n_inputs}, {self.hidden}, {self.n_outputs}, activation="
            f"{self.activation!r}, output={self.output!r}, dtype={self.dtype!r})"
        )
