"""MLP construction, parameter access, (de)serialisation and description."""

import json

import numpy as np
import pytest

from service.nn import MLP


def _net(**kw) -> MLP:
    return MLP(3, [5, 4], 2, rng=np.random.default_rng(0), **kw)


def test_parameter_keys_shapes_and_count() -> None:
    net = _net()
    shapes = {k: v.shape for k, v in net.parameters().items()}
    assert shapes == {
        "dense0.W": (3, 5), "dense0.b": (5,),
        "dense1.W": (5, 4), "dense1.b": (4,),
        "dense2.W": (4, 2), "dense2.b": (2,),
    }  # fmt: skip
    assert {k: v.shape for k, v in net.gradients().items()} == shapes
    assert net.n_parameters() == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2
    assert all(np.all(b == 0) for k, b in net.parameters().items() if k.endswith(".b"))


def test_perceptron_has_one_dense_layer() -> None:
    net = MLP(3, [], 1, rng=np.random.default_rng(0))
    assert list(net.parameters()) == ["dense0.W", "dense0.b"]
    assert net.predict(np.zeros((2, 3))).shape == (2, 1)


def test_init_scale_suits_the_activation() -> None:
    rng = np.random.default_rng(0)
    relu = MLP(400, [400], 1, activation="relu", rng=rng).parameters()["dense0.W"]
    tanh = MLP(400, [400], 1, activation="tanh", rng=rng).parameters()["dense0.W"]
    assert relu.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)  # He
    assert tanh.std() == pytest.approx(np.sqrt(2 / 800), rel=0.02)  # Glorot
    assert np.abs(tanh).max() <= np.sqrt(6 / 800)


def test_parameters_are_live_and_get_weights_are_copies() -> None:
    net = _net()
    X = np.ones((1, 3))
    before = net.predict(X)
    copies = net.get_weights()
    copies["dense2.b"] += 1.0
    np.testing.assert_array_equal(net.predict(X), before)
    net.parameters()["dense2.b"][...] += 1.0
    assert not np.array_equal(net.predict(X), before)


def test_forward_returns_logits_not_clobbered_by_the_next_call() -> None:
    net = _net(output="softmax")
    rng = np.random.default_rng(1)
    X1, X2 = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    z1 = net.forward(X1)
    z1_copy = z1.copy()
    net.forward(X2)
    np.testing.assert_array_equal(z1, z1_copy)
    np.testing.assert_allclose(net.logits(X1), z1)
    p = np.exp(z1) / np.exp(z1).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(net.predict(X1), p)


def test_backward_needs_matching_forward() -> None:
    net = _net()
    with pytest.raises(ValueError, match="does not match"):
        net.backward(np.zeros((3, 2)))
    net.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="does not match"):
        net.backward(np.zeros((3, 2)))
    net.backward(np.zeros((4, 2)))


def test_set_weights_rejects_wrong_keys_and_shapes() -> None:
    net = _net()
    good = net.get_weights()
    missing = {k: v for k, v in good.items() if k != "dense1.b"}
    extra = {**good, "dense9.W": np.zeros((1, 1))}
    wrong_shape = {**good, "dense1.W": np.zeros((4, 5))}
    for bad, match in ((missing, "keys"), (extra, "keys"), (wrong_shape, r"dense1\.W")):
        with pytest.raises(ValueError, match=match):
            net.set_weights(bad)
    with pytest.raises(ValueError, match="keys"):
        net.set_weights([1, 2, 3])  # type: ignore[arg-type]
    # A failed set_weights leaves the network as it was, even if some arrays were valid.
    half = {k: v + 1 for k, v in good.items()} | {"dense2.W": np.zeros((2, 4))}
    with pytest.raises(ValueError):
        net.set_weights(half)
    for key, w in net.get_weights().items():
        np.testing.assert_array_equal(w, good[key])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_from_config_round_trip_predicts_bitwise_identically(dtype: str) -> None:
    net = _net(activation="relu", output="softmax", dtype=dtype)
    config = json.loads(json.dumps(net.config()))
    weights = {k: np.array(v.tolist()) for k, v in net.get_weights().items()}  # as JSON would
    clone = MLP.from_config(config, weights)
    X = np.random.default_rng(2).normal(size=(7, 3))
    assert clone.predict(X).tobytes() == net.predict(X).tobytes()
    assert clone.config() == net.config() == {
        "n_inputs": 3, "hidden": [5, 4], "n_outputs": 2,
        "activation": "relu", "output": "softmax", "dtype": dtype,
    }  # fmt: skip


def test_unset_weights_refuse_to_run() -> None:
    net = MLP(3, [2], 1)
    with pytest.raises(RuntimeError, match="set_weights"):
        net.predict(np.zeros((1, 3)))
    net.set_weights(MLP(3, [2], 1, rng=np.random.default_rng(0)).get_weights())
    assert net.predict(np.zeros((1, 3))).shape == (1, 1)


@pytest.mark.parametrize(
    ("args", "kw", "match"),
    [
        ((0, [2], 1), {}, "n_inputs"),
        ((2, [2], 0), {}, "n_outputs"),
        ((2, [0], 1), {}, "hidden"),
        ((2, 3, 1), {}, "hidden"),
        ((2, [2.5], 1), {}, "hidden"),
        ((2, [2], 1), {"activation": "swish"}, "activation"),
        ((2, [2], 1), {"output": "swish"}, "output"),
        ((2, [2], 1), {"dtype": "float16"}, "dtype"),
    ],
)
def test_bad_architecture_is_refused(args: tuple, kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MLP(*args, rng=np.random.default_rng(0), **kw)


def test_from_config_rejects_incomplete_config() -> None:
    net = _net()
    config = net.config()
    del config["output"]
    with pytest.raises(ValueError, match="config"):
        MLP.from_config(config, net.get_weights())


def test_predict_checks_input_shape() -> None:
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        _net().predict(np.zeros((2, 4)))


def test_summary_lists_layers_and_counts() -> None:
    text = _net(activation="tanh").summary()
    for needle in ("dense0", "dense1", "dense2", "tanh", "sigmoid (output)", "(n, 5)", "20"):
        assert needle in text
    assert text.splitlines()[-1] == "total parameters: 54"
    assert "MLP(3, [5, 4], 2" in repr(_net())


def test_class_indices_follow_the_output_activation():
    rng = np.random.default_rng(0)
    sig = MLP(2, [], 1, output="sigmoid", rng=rng)
    assert sig.class_indices(np.array([[0.5], [0.49], [0.9]])).tolist() == [1, 0, 1]
    soft = MLP(2, [], 3, output="softmax", rng=rng)
    assert soft.class_indices(np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])).tolist() == [1, 0]
    with pytest.raises(ValueError, match="does not predict classes"):
        MLP(2, [], 1, output="identity", rng=rng).class_indices(np.zeros((1, 1)))
