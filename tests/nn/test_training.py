"""Training behaviour: classic small problems, determinism, dtypes, options of fit()."""

import json

import numpy as np
import pytest

from service.nn import MLP, Standardizer

from .helpers import make_blobs, make_moons, train


def test_xor_is_learned() -> None:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    net = MLP(2, [4], 1, activation="sigmoid", rng=np.random.default_rng(0))
    history = train(
        net, X, y, optimizer="adam", learning_rate=0.05, epochs=3000, rng=np.random.default_rng(0)
    )
    assert history.loss[-1] < 0.01
    out = net.predict(X)[:, 0]
    assert ((out > 0.5) == y.astype(bool)).all()


def test_diabetes_perceptron_with_sgd() -> None:
    # Columns: smoking, obesity, exercise -> diabetic. Plain SGD, lr 0.05, 20000 epochs.
    X = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=float)
    y = np.array([1, 0, 0, 1, 1])
    net = MLP(3, [], 1, activation="sigmoid", output="sigmoid", rng=np.random.default_rng(0))
    train(
        net, X, y, optimizer="sgd", learning_rate=0.05, epochs=20000, rng=np.random.default_rng(0)
    )
    smoker, obese = net.predict(np.array([[1.0, 0, 0], [0, 1, 0]]))[:, 0]
    assert smoker < 0.5 < obese
    assert ((net.predict(X)[:, 0] > 0.5) == y.astype(bool)).all()


def test_moons_held_out_accuracy() -> None:
    # Noise 0.2 puts the Bayes accuracy near 0.97, so which points land in a 100-point
    # test set matters: the data seed is fixed (every activation reaches 0.98 on it).
    X, y = make_moons(500, 0.2, np.random.default_rng(2))
    net = MLP(2, [10], 1, activation="tanh", rng=np.random.default_rng(0))
    train(net, X[:400], y[:400], learning_rate=0.05, epochs=2000, rng=np.random.default_rng(1))
    accuracy = np.mean((net.predict(X[400:])[:, 0] > 0.5) == y[400:])
    assert accuracy >= 0.97


def test_multiclass_blobs_with_softmax() -> None:
    X, y = make_blobs(60, np.random.default_rng(0))
    net = MLP(2, [8], 3, activation="tanh", output="softmax", rng=np.random.default_rng(0))
    history = train(
        net,
        X[:150],
        y[:150],
        loss="cce",
        learning_rate=0.05,
        epochs=300,
        validation_data=(X[150:], y[150:]),
        rng=np.random.default_rng(0),
    )
    assert history.val_metric[-1] >= 0.95
    probs = net.predict(X[150:])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.mean(probs.argmax(axis=1) == y[150:]) >= 0.95


def test_regression_with_mse() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(200, 1))
    y = 2 * x[:, 0] + 1 + rng.normal(0, 0.1, 200)
    net = MLP(1, [8], 1, activation="tanh", output="identity", rng=rng)
    history = train(
        net,
        x[:160],
        y[:160],
        loss="mse",
        learning_rate=0.02,
        epochs=1000,
        validation_data=(x[160:], y[160:]),
        rng=rng,
    )
    assert history.val_metric[-1] < 0.15  # rmse; the noise alone is 0.1
    assert net.predict(np.array([[0.5]]))[0, 0] == pytest.approx(2.0, abs=0.1)


def _train(seed: int, dtype: str = "float64") -> MLP:
    X, y = make_moons(120, 0.2, np.random.default_rng(9))
    net = MLP(2, [6, 5], 1, activation="relu", rng=np.random.default_rng(seed), dtype=dtype)
    train(net, X, y, epochs=20, batch_size=16, rng=np.random.default_rng(seed))
    return net


def test_same_seed_gives_bitwise_identical_weights() -> None:
    a, b = _train(3).get_weights(), _train(3).get_weights()
    for key in a:
        assert a[key].tobytes() == b[key].tobytes()


def test_different_seeds_give_different_weights() -> None:
    a, b = _train(3).get_weights(), _train(4).get_weights()
    assert any(not np.array_equal(a[k], b[k]) for k in a)


def test_float32_trains_and_predicts_in_float32() -> None:
    net = _train(3, dtype="float32")
    assert all(w.dtype == np.float32 for w in net.parameters().values())
    assert all(g.dtype == np.float32 for g in net.gradients().values())
    X = np.random.default_rng(0).normal(size=(4, 2))  # float64 input is cast, not upcast to
    assert net.predict(X).dtype == np.float32
    assert net.forward(X).dtype == np.float32
    assert net.config()["dtype"] == "float32"


def test_mini_batches_not_dividing_n() -> None:
    X, y = make_moons(101, 0.1, np.random.default_rng(0))
    net = MLP(2, [8], 1, activation="tanh", rng=np.random.default_rng(0))
    seen = []
    history = train(
        net,
        X,
        y,
        epochs=60,
        batch_size=16,
        learning_rate=0.02,
        rng=np.random.default_rng(0),
        callback=lambda e, loss: seen.append(e),
    )
    assert seen == list(range(1, 61)) and history.epochs_run == 60
    assert history.loss[-1] < 0.5 * history.loss[0]
    # A batch larger than the data set is simply the full batch.
    train(net, X, y, epochs=2, batch_size=1000, rng=np.random.default_rng(0))


def test_weight_decay_shrinks_w_only() -> None:
    X, y = make_moons(64, 0.2, np.random.default_rng(0))

    def one_sgd_step(decay: float) -> dict[str, np.ndarray]:
        net = MLP(2, [5], 1, activation="tanh", rng=np.random.default_rng(0))
        train(
            net,
            X,
            y,
            optimizer="sgd",
            learning_rate=0.1,
            epochs=1,
            weight_decay=decay,
            rng=np.random.default_rng(0),
        )
        return net.get_weights()

    start = MLP(2, [5], 1, activation="tanh", rng=np.random.default_rng(0)).get_weights()
    plain, decayed = one_sgd_step(0.0), one_sgd_step(0.5)
    for key in start:
        if key.endswith(".W"):  # the L2 term adds decay * W to W's gradient
            np.testing.assert_allclose(decayed[key], plain[key] - 0.1 * 0.5 * start[key])
        else:
            np.testing.assert_array_equal(decayed[key], plain[key])


def test_weight_decay_gives_smaller_weights_after_training() -> None:
    X, y = make_moons(200, 0.2, np.random.default_rng(0))

    def norm_after(decay: float) -> float:
        net = MLP(2, [10], 1, activation="tanh", rng=np.random.default_rng(0))
        train(net, X, y, epochs=300, weight_decay=decay, rng=np.random.default_rng(0))
        return sum(float(np.sum(w**2)) for k, w in net.parameters().items() if k.endswith("W"))

    assert norm_after(0.01) < 0.8 * norm_after(0.0)


def test_sgd_momentum_trains_faster_than_plain_sgd() -> None:
    X, y = make_moons(200, 0.2, np.random.default_rng(0))

    def final_loss(momentum: float) -> float:
        net = MLP(2, [10], 1, activation="tanh", rng=np.random.default_rng(0))
        history = train(
            net,
            X,
            y,
            optimizer="sgd",
            learning_rate=0.1,
            momentum=momentum,
            epochs=300,
            rng=np.random.default_rng(0),
        )
        return history.loss[-1]

    with_momentum = final_loss(0.9)
    assert with_momentum < 0.5 * final_loss(0.0)
    assert with_momentum < 0.15


def test_early_stopping_restores_best_weights() -> None:
    X, y = make_moons(100, 0.1, np.random.default_rng(0))
    # Validating against flipped labels: the better the fit, the worse the val loss, so the
    # best epoch comes early and training must stop well before `epochs`.
    snapshots: dict[int, dict[str, np.ndarray]] = {}
    net = MLP(2, [8], 1, activation="tanh", rng=np.random.default_rng(0))
    history = train(
        net,
        X,
        y,
        learning_rate=0.05,
        epochs=500,
        validation_data=(X, 1 - y),
        patience=5,
        rng=np.random.default_rng(0),
        callback=lambda epoch, loss: snapshots.update({epoch: net.get_weights()}),
    )
    best = history.best_epoch
    assert best is not None
    assert history.epochs_run == best + 5 < 500
    assert len(history.loss) == len(history.val_loss) == history.epochs_run
    assert history.val_loss[best - 1] == min(history.val_loss)
    restored = net.get_weights()
    for key, w in snapshots[best].items():
        np.testing.assert_array_equal(restored[key], w)
    assert any(not np.array_equal(restored[k], snapshots[history.epochs_run][k]) for k in restored)


def test_history_without_validation_and_to_dict() -> None:
    X, y = make_moons(50, 0.1, np.random.default_rng(0))
    net = MLP(2, [3], 1, rng=np.random.default_rng(0))
    history = train(net, X, y, epochs=5, rng=np.random.default_rng(0))
    assert history.val_loss == [] and history.val_metric == [] and history.best_epoch is None
    d = json.loads(json.dumps(history.to_dict()))
    assert d["epochs_run"] == 5 and len(d["loss"]) == 5 and d["best_epoch"] is None


def test_callback_exception_propagates_and_stops_training() -> None:
    X, y = make_moons(50, 0.1, np.random.default_rng(0))
    net = MLP(2, [3], 1, rng=np.random.default_rng(0))
    calls = []

    def cancel(epoch: int, loss: float) -> None:
        calls.append((epoch, loss))
        if epoch == 3:
            raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt, match="cancelled"):
        train(net, X, y, epochs=100, rng=np.random.default_rng(0), callback=cancel)
    assert [e for e, _ in calls] == [1, 2, 3]
    assert all(isinstance(loss, float) for _, loss in calls)


def test_standardized_training_pipeline() -> None:
    rng = np.random.default_rng(0)
    X, y = make_moons(200, 0.1, rng)
    X = X * [1000.0, 0.001] + [5e4, -3.0]  # wildly different scales, as real features have
    scaler = Standardizer.fit(X)
    net = MLP(2, [8], 1, activation="tanh", rng=rng)
    history = train(net, scaler.transform(X), y, epochs=500, rng=rng)
    assert history.loss[-1] < 0.1
