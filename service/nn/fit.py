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


def fit(
    net: MLP,
    X: np.ndarray,
    y: np.ndarray,
    *,
    loss: str = "bce",
    optimizer: str = "adam",
    learning_rate: float = 0.05,
    epochs: int = 2000,
    batch_size: int | None = None,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    rng: np.random.Generator,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    patience: int | None = None,
    callback: Callable[[int, float], None] | None = None,
) -> History:
    """Train net in place on X: (n, n_inputs), y: see encode_targets; return the History.

    batch_size None (or >= n) trains full-batch; otherwise each epoch is a fresh shuffle drawn
    from rng cut into mini-batches (the last one may be smaller). weight_decay adds
    weight_decay * W to the gradient of every W (not b). momentum applies to sgd only.
    With validation_data and patience, training stops after `patience` epochs without a
    lower val_loss and the best epoch's weights are restored (also when epochs run out).
    callback(epoch, loss) runs after every epoch; an exception from it stops training.
    """
    # -- validate everything before touching the network ----------------------------------
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
    if optimizer not in optimizers.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected {optimizers.OPTIMIZERS}")
    if net.output != OUTPUT_FOR_LOSS[loss]:
        raise ValueError(
            f"loss {loss!r} needs output={OUTPUT_FOR_LOSS[loss]!r}, the network has {net.output!r}"
        )
    if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer)
    ):
        raise ValueError(f"batch_size must be None or an integer >= 1, got {batch_size!r}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be None or an integer >= 1, got {batch_size!r}")
    if not (np.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if patience is not None and (validation_data is None or patience < 1):
        raise ValueError("patience must be >= 1 and needs validation_data")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    opt = optimizers.make(optimizer, learning_rate, momentum=momentum)

    X = _check_X(X, net, "X")
    n = X.shape[0]
    T = encode_targets(y, loss, net.n_outputs, n, net.dtype)
    if validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        X_val = _check_X(validation_data[0], net, "validation X")
        T_val = encode_targets(validation_data[1], loss, net.n_outputs, len(X_val), net.dtype)

    # -- set up the hot loop ----------------------------------------------------------------
    value_and_grad = losses.get(loss)[2]
    bs = n if batch_size is None else min(int(batch_size), n)
    shuffle = bs < n
    if shuffle:
        # Each epoch's shuffle is gathered into these buffers, so batches are cheap views.
        X_epoch, T_epoch = np.empty_like(X), np.empty_like(T)
    else:
        X_epoch, T_epoch = np.ascontiguousarray(X), T
    batches = [(X_epoch[s : s + bs], T_epoch[s : s + bs]) for s in range(0, n, bs)]
    weights_of = [len(xb) / n for xb, _ in batches]
    # The optimizer sees one fused parameter: the flat vector all layers are views of.
    params, grads = {"theta": net.parameter_vector()}, {"theta": net.gradient_vector()}
    W_flat, dW_flat = params["theta"][: net.n_weights], grads["theta"][: net.n_weights]
    decay_tmp = np.empty_like(W_flat) if weight_decay else None
    decay = float(weight_decay)

    history = History()
    best_loss, best_theta, stale = np.inf, None, 0
    for epoch in range(1, int(epochs) + 1):
        if shuffle:
            order = rng.permutation(n)
            np.take(X, order, axis=0, out=X_epoch)
            np.take(T, order, axis=0, out=T_epoch)
        epoch_loss = 0.0
        for (xb, tb), w in zip(batches, weights_of, strict=True):
            value, dz = value_and_grad(net._forward(xb), tb)
            net._backward(dz)
            if decay_tmp is not None:
                np.multiply(W_flat, decay, out=decay_tmp)
                dW_flat += decay_tmp
            opt.step(params, grads)
            epoch_loss += value * w
        history.loss.append(epoch_loss)
        history.epochs_run = epoch

        stop = False
        if validation_data is not None:
            val_loss, val_metric = evaluate(net, X_val, T_val, loss)
            history.val_loss.append(val_loss)
            history.val_metric.append(val_metric)
            if patience is not None:
                if val_loss < best_loss:
                    best_loss, stale, history.best_epoch = val_loss, 0, epoch
                    if best_theta is None:
                        best_theta = np.empty_like(params["theta"])
                    np.copyto(best_theta, params["theta"])
                else:
                    stale += 1
                    stop = stale >= patience
        if callback is not None:
            callback(epoch, epoch_loss)
        if stop:
            break

    if best_theta is not None:
        np.copyto(params["theta"], best_theta)
    return history
