"""Layers: forward caches what backward needs, backward fills gradients and returns the
gradient for the layer below. Neither ever changes a parameter; optimizers do that.

Backward OVERWRITES the gradient arrays (one batch, one backward, one step), so training
needs no zero_grad pass; accumulate across batches by summing copies if ever needed.

Training calls forward/backward thousands of times with the same batch size, so each layer
keeps output buffers per batch size and writes into them with ``out=``. Arrays returned by
``forward``/``backward`` are therefore only valid until the next call with the same batch size.
``apply`` is the allocation-per-call, cache-free path used for inference.
"""

import numpy as np

from . import activations

# Batch sizes seen in one training run are few (the batch size and one remainder), but ad-hoc
# forward() calls could bring many; beyond this many, old buffers are dropped.
_MAX_BUFFERED_SIZES = 4


class _Buffers:
    """Preallocated arrays keyed by batch size, each (n, width)."""

    def __init__(self, width: int, dtype: np.dtype) -> None:
        self.width = width
        self.dtype = dtype
        self._by_n: dict[int, np.ndarray] = {}

    def get(self, n: int) -> np.ndarray:
        buf = self._by_n.get(n)
        if buf is None:
            if len(self._by_n) >= _MAX_BUFFERED_SIZES:
                self._by_n.clear()
            buf = self._by_n[n] = np.empty((n, self.width), dtype=self.dtype)
        return buf


class Dense:
    """Affine layer Z = X @ W + b with W: (n_in, n_out) and b: (n_out,)."""

    def __init__(
        self,
        W: np.ndarray,
        b: np.ndarray,
        dW: np.ndarray | None = None,
        db: np.ndarray | None = None,
        needs_input_grad: bool = True,
    ) -> None:
        """Wrap existing arrays (views into the network's flat buffers when built by MLP)."""
        n_in, n_out = W.shape
        if b.shape != (n_out,):
            raise ValueError(f"b must have shape ({n_out},), got {b.shape}")
        self.W, self.b = W, b
        self.dW = np.zeros_like(W) if dW is None else dW
        self.db = np.zeros_like(b) if db is None else db
        self.params = {"W": self.W, "b": self.b}
        self.grads = {"W": self.dW, "b": self.db}
        # The first layer's input is data: computing its gradient would be wasted work.
        self.needs_input_grad = needs_input_grad
        self._X: np.ndarray | None = None
        self._Z = _Buffers(n_out, W.dtype)
        self._dX = _Buffers(n_in, W.dtype)
        self._ones: np.ndarray = np.ones(0, dtype=W.dtype)

    @property
    def n_in(self) -> int:
        return self.W.shape[0]

    @property
    def n_out(self) -> int:
        return self.W.shape[1]

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Return Z = X @ W + b and cache X. X: (n, n_in) -> (n, n_out)."""
        Z = self._Z.get(X.shape[0])
        np.dot(X, self.W, out=Z)
        Z += self.b
        self._X = X
        return Z

    def backward(self, dZ: np.ndarray) -> np.ndarray | None:
        """Fill dW, db from dZ: (n, n_out); return dX: (n, n_in) (None for the first layer)."""
        X = self._X
        if X is None:
            raise RuntimeError("backward called before forward")
        n = dZ.shape[0]
        np.dot(X.T, dZ, out=self.dW)
        # ones @ dZ is a BLAS gemv, several times faster than dZ.sum(axis=0) for small n_out.
        if self._ones.shape[0] != n:
            self._ones = np.ones(n, dtype=self.W.dtype)
        np.dot(self._ones, dZ, out=self.db)
        if not self.needs_input_grad:
            return None
        dX = self._dX.get(n)
        np.dot(dZ, self.W.T, out=dX)
        return dX

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Return X @ W + b without caching. X: (n, n_in) -> (n, n_out)."""
        Z = X @ self.W
        Z += self.b
        return Z


class Activation:
    """Element-wise (or row-wise, for softmax) activation; holds no parameters."""

    def __init__(self, name: str, width: int, dtype: np.dtype) -> None:
        """Build the named activation for inputs of shape (n, width)."""
        self.name = name
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        act = activations.get(name)
        self._fn, self._backward = act.forward, act.backward
        self._A = _Buffers(width, dtype)
        self._dZ = _Buffers(width, dtype)
        self._out: np.ndarray | None = None

    def forward(self, Z: np.ndarray) -> np.ndarray:
        """Return A = f(Z) and cache A. Z: (n, width) -> (n, width)."""
        A = self._fn(Z, out=self._A.get(Z.shape[0]))
        self._out = A
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        """Return dZ = dA * f'(Z), computed from the cached output. dA: (n, width)."""
        if self._out is None:
            raise RuntimeError("backward called before forward")
        return self._backward(self._out, dA, out=self._dZ.get(dA.shape[0]))

    def apply(self, Z: np.ndarray) -> np.ndarray:
        """Return f(Z) without caching, written over Z (a fresh array from Dense.apply)."""
        return self._fn(Z, out=Z)
