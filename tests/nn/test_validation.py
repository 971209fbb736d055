"""fit() refuses bad input before training; nothing overflows on extreme values."""

import warnings

import numpy as np
import pytest

from service.nn import ACTIVATIONS, MLP, losses

from .helpers import train


def _net(**kw) -> MLP:
    return MLP(2, [3], kw.pop("n_outputs", 1), rng=np.random.default_rng(0), **kw)


X_OK = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
Y_OK = np.array([1, 1, 0, 0])


def _refuses(match: str, net: MLP | None = None, X=X_OK, y=Y_OK, **kw) -> None:
    """Assert fit raises ValueError matching `match` without touching weights or callback."""
    net = net or _net()
    before = net.get_weights()
    calls = []
    with pytest.raises(ValueError, match=match):
        train(net, X, y, rng=np.random.default_rng(0), callback=lambda *a: calls.append(a), **kw)
    assert calls == []
    for key, w in net.get_weights().items():
        np.testing.assert_array_equal(w, before[key])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features_are_refused(bad: float) -> None:
    X = X_OK.copy()
    X[2, 1] = bad
    _refuses("NaN or infinite", X=X)


def test_non_finite_targets_are_refused() -> None:
    net = MLP(2, [3], 1, output="identity", rng=np.random.default_rng(0))
    _refuses("NaN or infinite", net=net, y=np.array([1.0, np.nan, 0.0, 2.0]), loss="mse")


def test_non_finite_validation_data_is_refused() -> None:
    X_val = X_OK.copy()
    X_val[0, 0] = np.nan
    _refuses("validation X", validation_data=(X_val, Y_OK))


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (X_OK[:, :1], Y_OK, "shape"),  # wrong number of features
        (X_OK[0], Y_OK, "shape"),  # 1-D X
        (np.zeros((0, 2)), np.zeros(0), "shape"),  # no rows
        (X_OK, Y_OK[:3], "rows"),  # y length differs
        (X_OK, np.ones((4, 2)), "shape"),  # too many target columns
        (np.array([["a", "b"]] * 4), Y_OK, "numeric"),
    ],
)
def test_bad_shapes_are_refused(X, y, match: str) -> None:
    _refuses(match, X=X, y=y)


@pytest.mark.parametrize("y", [[0, 1, 2, 0], [0.0, 0.5, 1.0, 1.0], [-1, 1, 0, 1]])
def test_bce_labels_must_be_0_or_1(y) -> None:
    _refuses("0 or 1", y=np.array(y))


@pytest.mark.parametrize("y", [[0, 1, 3, 0], [0, -1, 1, 2], [0.0, 1.5, 1.0, 2.0], [1e30, 0, 1, 2]])
def test_cce_labels_must_be_in_range(y) -> None:
    net = _net(n_outputs=3, output="softmax")
    _refuses("integers in 0..2", net=net, y=np.array(y), loss="cce")


def test_cce_needs_several_outputs() -> None:
    _refuses("n_outputs >= 2", net=_net(n_outputs=1, output="softmax"), loss="cce")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"loss": "hinge"}, "unknown loss"),
        ({"optimizer": "rmsprop"}, "unknown optimizer"),
        ({"loss": "mse"}, "output='identity'"),  # the net's output is sigmoid
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"optimizer": "sgd", "momentum": 1.0}, "momentum"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"patience": 3}, "validation_data"),
    ],
)
def test_bad_options_are_refused(kw: dict, match: str) -> None:
    _refuses(match, **kw)


def test_rng_is_required_to_be_a_generator() -> None:
    with pytest.raises(ValueError, match="Generator"):
        train(_net(), X_OK, Y_OK, rng=0)  # type: ignore[arg-type]


def test_y_column_vector_and_bool_labels_are_accepted() -> None:
    net = _net()
    train(net, X_OK, Y_OK[:, None], epochs=2, rng=np.random.default_rng(0))
    train(net, X_OK, Y_OK.astype(bool), epochs=2, rng=np.random.default_rng(0))


def test_extreme_inputs_give_finite_outputs_without_warnings() -> None:
    X_big = np.array([[1e6, -1e6], [-1e6, 1e6], [1e6, 1e6]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for activation in ACTIVATIONS:
            for output in ACTIVATIONS:
                for dtype in ("float64", "float32"):
                    net = MLP(2, [4], 3, activation=activation, output=output,
                              rng=np.random.default_rng(0), dtype=dtype)  # fmt: skip
                    assert np.isfinite(net.predict(X_big)).all()
        for name in losses.LOSSES:
            Z = np.array([[1e6, -1e6], [-1e6, 1e6]])
            T = np.array([[1.0, 0.0], [1.0, 0.0]])
            value, dz = losses.get(name)[2](Z, T)
            assert np.isfinite(value) and np.isfinite(dz).all()
            assert np.isfinite(losses.get(name)[1](Z, T)).all()
        # A few training epochs on extreme data stay finite too.
        net = MLP(2, [4], 1, activation="relu", rng=np.random.default_rng(0))
        history = train(net, X_big, [1, 0, 1], epochs=5, rng=np.random.default_rng(0))
        assert np.isfinite(history.loss).all()


def test_saturated_bce_loss_is_exact_not_clipped() -> None:
    # From logits, a confidently wrong prediction costs about |z|, never log(0) = inf.
    assert losses.bce(np.array([[-800.0]]), np.array([[1.0]])) == pytest.approx(800.0)
    assert losses.bce(np.array([[800.0]]), np.array([[1.0]])) == 0.0
