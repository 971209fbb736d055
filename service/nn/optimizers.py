"""Optimizers: update parameters in place from gradients, with state keyed by parameter name.

``step(params, grads)`` takes two dicts with the same keys. The update is done with in-place
ufuncs into per-parameter scratch arrays, so a step allocates nothing after the first one.
"""

import numpy as np

OPTIMIZERS = ("sgd", "adam")


class SGD:
    """Stochastic gradient descent with optional (heavy-ball) momentum."""

    def __init__(self, learning_rate: float, momentum: float = 0.0) -> None:
        """Set the step size and momentum coefficient in [0, 1)."""
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.velocity: dict[str, np.ndarray] = {}
        self._scratch: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Apply p -= lr * v with v = momentum * v + g (PyTorch's formulation)."""
        lr = self.learning_rate
        for name, p in params.items():
            g = grads[name]
            tmp = self._scratch.get(name)
            if tmp is None:
                tmp = self._scratch[name] = np.empty_like(p)
            if self.momentum:
                v = self.velocity.get(name)
                if v is None:
                    v = self.velocity[name] = np.zeros_like(p)
                v *= self.momentum
                v += g
                g = v
            np.multiply(g, lr, out=tmp)
            p -= tmp


class Adam:
    """Adam (Kingma & Ba) with bias correction, as in PyTorch."""

    def __init__(
        self,
        learning_rate: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        """Set the step size, moment decay rates and denominator epsilon."""
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self._scratch: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Apply p -= lr * m_hat / (sqrt(v_hat) + eps) with bias-corrected moments."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # m_hat / (sqrt(v_hat) + eps) == m / (sqrt(v) + eps * sqrt(c2)) * sqrt(c2) / c1 with
        # c = 1 - beta**t: folding the corrections into scalars saves whole-array passes.
        sqrt_c2 = float(np.sqrt(1.0 - b2**self.t))
        step_size = self.learning_rate * sqrt_c2 / (1.0 - b1**self.t)
        eps = self.eps * sqrt_c2
        for name, p in params.items():
            g = grads[name]
            m = self.m.get(name)
            if m is None:
                m = self.m[name] = np.zeros_like(p)
                self.v[name] = np.zeros_like(p)
                self._scratch[name] = np.empty_like(p)
            v, tmp = self.v[name], self._scratch[name]
            # m = b1 m + (1 - b1) g, written as m += (1 - b1)(g - m): two passes, no temporary.
            np.subtract(g, m, out=tmp)
            tmp *= 1.0 - b1
            m += tmp
            np.multiply(g, g, out=tmp)
            tmp -= v
            tmp *= 1.0 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp


def make(name: str, learning_rate: float, momentum: float = 0.0) -> SGD | Adam:
    """Build the named optimizer ("sgd" uses momentum; "adam" ignores it)."""
    if name == "sgd":
        return SGD(learning_rate, momentum=momentum)
    if name == "adam":
        return Adam(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")
