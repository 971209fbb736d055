"""Training loop: validate data once, then forward, loss, backward, optimizer step.

Everything that can be done once is done before the first epoch (validation, dtype cast,
target encoding, batch views), so the hot loop is a few method calls on preallocated arrays.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import losses, optimizers
from .losses import LOSSES, OUTPUT_FOR_LOSS
from .network import MLP


@dataclass
class History:
    """Per-epoch record of a training run."""

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    epochs_run: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict of the fields."""
        return asdict(self)


def _check_X(X: Any, net: MLP, what: str) -> np.ndarray:
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numeric, got dtype {X.dtype}")
    X = X.astype(net.dtype, copy=False)
    if X.ndim != 2 or X.shape[1] != net.n_inputs or X.shape[0] == 0:
        raise ValueError(f"{what} must have shape (n >= 1, {net.n_inputs}), got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return X


def encode_targets(y: Any, loss: str, n_outputs: int, n: int, dtype: str) -> np.ndarray:
    """Return targets shaped like the logits, (n, n_outputs), checked for the loss.

    bce: (n,) or (n, n_outputs) of 0/1. cce: (n,) integer labels 0..n_outputs-1, one-hot
    encoded here. mse: (n,) or (n, n_outputs) floats.
    """
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise ValueError(f"y must be numeric, got dtype {y.dtype}")
    if y.shape[:1] != (n,):
        raise ValueError(f"y must have {n} rows (one per row of X), got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinite values")
    if loss == "cce":
        if n_outputs < 2:
            raise ValueError("cce needs a network with n_outputs >= 2 (one per class)")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"cce labels must have shape (n,), got {y.shape}")
        # Range first: casting an out-of-range float to int is undefined (and warns).
        if y.min() < 0 or y.max() >= n_outputs or (y.dtype.kind == "f" and (y % 1 != 0).any()):
            raise ValueError(f"cce labels must be integers in 0..{n_outputs - 1}")
        labels = y.astype(np.int64)
        T = np.zeros((n, n_outputs), dtype=dtype)
        T[np.arange(n), labels] = 1.0
        return T
    if y.ndim == 1 and n_outputs == 1:
        y = y[:, None]
    if y.shape != (n, n_outputs):
        raise ValueError(f"y must have shape ({n},) or ({n}, {n_outputs}), got {y.shape}")
    if loss == "bce" and not np.isin(y, (0, 1)).all():
        raise ValueError("bce labels must be 0 or 1")
    return np.ascontiguousarray(y, dtype=dtype)


def evaluate(net: MLP, X: np.ndarray, T: np.ndarray, loss: str) -> tuple[float, float]:
    """Return (loss, metric) on encoded targets: accuracy for bce/cce, rmse for mse."""
    Z = net.logits(X)
    value = losses.get(loss)[0](Z, T)
    if loss == "bce":
        metric = float(np.mean((Z > 0) == (T > 0.5)))
    elif loss == "cce":
        metric = float(np.mean(Z.argmax(axis=1) == T.argmax(axis=1)))
    else:
        metric = float(np.sqrt(losses.mse(Z, T)))
    return value, metric


def check_options(
    net: MLP,
    *,
    loss: str,
    optimizer: str,
    epochs: int,
    batch_size: int | None,
    weight_decay: float,
    rng: np.random.Generator,
    validation: bool,
    patience: int | None,
) -> None:
    """Refuse options fit() cannot use, before anything touches the network."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
    if optimizer not in optimizers.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected {optimizers.OPTIMIZERS}")
    if net.output != OUTPUT_FOR_LOSS[loss]:
        raise ValueError(
            f"loss {loss!r} needs output={OUTPUT_FOR_LOSS[loss]!r}, the network has {net.output!r}"
        )
    if not _count(epochs):
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if batch_size is not None and not _count(batch_size):
        raise ValueError(f"batch_size must be None or an integer >= 1, got {batch_size!r}")
    if not (np.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if patience is not None and (not validation or patience < 1):
        raise ValueError("patience must be >= 1 and needs validation_data")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")


def _count(value: Any) -> bool:
    """Tell an integer >= 1 (not a bool, which Python counts as an int)."""
    return not isinstance(value, bool) and isinstance(value, int | np.integer) and value >= 1


def _validation(net: MLP, loss: str, data: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if data is None:
        return None
    if not isinstance(data, tuple | list) or len(data) != 2:
        raise ValueError("validation_data must be a pair (X_val, y_val)")
    X_val = _check_X(data[0], net, "validation X")
    return X_val, encode_targets(data[1], loss, net.n_outputs, len(X_val), net.dtype)


def fit(
    net: MLP,
    X: np.ndarray,
    y: np.ndarray,
    *,
    loss: str,
    optimizer: str,
    learning_rate: float,
    epochs: int,
    rng: np.random.Generator,
    batch_size: int | None = None,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    patience: int | None = None,
    callback: Callable[[int, float], None] | None = None,
) -> History:
    """Train net in place on X: (n, n_inputs), y: see encode_targets; return the History.

    The options that shape training have no default here: the training spec
    (service/training/spec.py) holds the service's. batch_size None (or >= n) trains
    full-batch; otherwise each epoch draws a fresh permutation from rng and gathers one
    mini-batch at a time (the last may be smaller), so X is never copied whole. weight_decay
    adds weight_decay * W to the gradient of every W (not b). momentum applies to sgd only.
    With validation_data and patience, training stops after `patience` epochs without a
    lower val_loss and the best epoch's weights are restored (also when epochs run out).
    callback(epoch, loss) runs after every epoch; an exception from it stops training.
    """
    check_options(
        net, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
        weight_decay=weight_decay, rng=rng, validation=validation_data is not None,
        patience=patience,
    )  # fmt: skip
    opt = optimizers.make(optimizer, learning_rate, momentum=momentum)
    X = _check_X(X, net, "X")
    n = X.shape[0]
    T = encode_targets(y, loss, net.n_outputs, n, net.dtype)
    validation = _validation(net, loss, validation_data)
    step = _Stepper(net, opt, loss, weight_decay)
    batches = _Batches(X, T, n if batch_size is None else min(int(batch_size), n))

    history = History()
    best_loss, best_theta, stale = np.inf, None, 0
    for epoch in range(1, int(epochs) + 1):
        epoch_loss = sum(step(xb, tb) * w for xb, tb, w in batches.epoch(rng))
        history.loss.append(epoch_loss)
        history.epochs_run = epoch
        stop = False
        if validation is not None:
            val_loss, val_metric = evaluate(net, *validation, loss)
            history.val_loss.append(val_loss)
            history.val_metric.append(val_metric)
            if patience is not None:
                if val_loss < best_loss:
                    best_loss, stale, history.best_epoch = val_loss, 0, epoch
                    best_theta = step.theta.copy()
                else:
                    stale += 1
                    stop = stale >= patience
        if callback is not None:
            callback(epoch, epoch_loss)
        if stop:
            break
    if best_theta is not None:
        np.copyto(step.theta, best_theta)
    return history


class _Stepper:
    """One optimizer step on a mini-batch: forward, loss, backward, weight decay, update."""

    def __init__(self, net: MLP, opt: Any, loss: str, weight_decay: float) -> None:
        self.net, self.opt = net, opt
        self.value_and_grad = losses.get(loss)[2]
        # The optimizer sees one fused parameter: the flat vector all layers are views of.
        self.theta = net.parameter_vector()
        self.params, self.grads = {"theta": self.theta}, {"theta": net.gradient_vector()}
        self.W, self.dW = self.theta[: net.n_weights], self.grads["theta"][: net.n_weights]
        self.decay = float(weight_decay)
        self.decay_tmp = np.empty_like(self.W) if weight_decay else None

    def __call__(self, xb: np.ndarray, tb: np.ndarray) -> float:
        """Take one step on the batch; return its loss before the step."""
        value, dz = self.value_and_grad(self.net._forward(xb), tb)
        self.net._backward(dz)
        if self.decay_tmp is not None:
            np.multiply(self.W, self.decay, out=self.decay_tmp)
            self.dW += self.decay_tmp
        self.opt.step(self.params, self.grads)
        return value


class _Batches:
    """Mini-batches of (X, T): each gathered from a fresh permutation into reused buffers."""

    def __init__(self, X: np.ndarray, T: np.ndarray, size: int) -> None:
        self.X, self.T, self.size, self.n = X, T, size, len(X)
        self.weights = [min(size, self.n - s) / self.n for s in range(0, self.n, size)]
        if size < self.n:  # one batch's worth of memory, not a copy of the data per epoch
            self.xb = np.empty((size, X.shape[1]), dtype=X.dtype)
            self.tb = np.empty((size, T.shape[1]), dtype=T.dtype)
        else:
            self.X = np.ascontiguousarray(X)

    def epoch(self, rng: np.random.Generator):
        """Yield (X batch, T batch, its share of the rows) for one epoch."""
        if self.size >= self.n:
            yield self.X, self.T, 1.0
            return
        order = rng.permutation(self.n)
        for k, start in enumerate(range(0, self.n, self.size)):
            rows = order[start : start + self.size]
            m = len(rows)
            xb, tb = self.xb[:m], self.tb[:m]
            np.take(self.X, rows, axis=0, out=xb)
            np.take(self.T, rows, axis=0, out=tb)
            yield xb, tb, self.weights[k]
