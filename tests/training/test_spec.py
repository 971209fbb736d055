"""One training request: nns-train's flags, the CSV query and the JSON body all parse into it."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from service.nn import HIDDEN_ACTIVATIONS
from service.training.cli import CLI_ONLY_HTTP, _request, build_parser, flag
from service.training.request import TrainRequest, from_flat
from service.training.spec import RECIPES, Hyperparameters, Limits

FLAGS = ["--dataset", "moons", "--samples", "300", "--noise", "0.1", "--hidden", "8,4"]
FLAGS += ["--activation", "tanh", "--lr", "0.01", "--epochs", "50", "--batch-size", "32"]


def test_every_spec_field_is_a_flag_with_its_description_as_help():
    parser = build_parser()
    actions = {a.dest: a for a in parser._actions}
    fields = {**TrainRequest.model_fields, **Hyperparameters.model_fields}
    for name, info in fields.items():
        if name in (*CLI_ONLY_HTTP, "hyperparameters", "rows", "csv", "file"):
            continue
        assert flag(name) in actions[name].option_strings, name
        assert actions[name].help == info.description
    assert actions["activation"].choices == list(HIDDEN_ACTIVATIONS)
    assert "softmax" not in HIDDEN_ACTIVATIONS  # an output activation only


def test_flags_query_and_json_body_give_the_same_spec():
    from_cli = _request(build_parser().parse_args([*FLAGS, "--model", "m"]))
    query = {"model": "m", "dataset": "moons", "samples": "300", "noise": "0.1", "hidden": "8,4"}
    query |= {"activation": "tanh", "learning_rate": "0.01", "epochs": "50", "batch_size": "32"}
    from_query = from_flat(query)
    body = {"model": "m", "dataset": "moons", "samples": 300, "noise": 0.1}
    body["hyperparameters"] = {"hidden": [8, 4], "activation": "tanh", "learning_rate": 0.01}
    body["hyperparameters"] |= {"epochs": 50, "batch_size": 32}
    from_json = TrainRequest.model_validate_json(json.dumps(body), strict=True)
    assert from_cli == from_query
    assert from_json == from_cli


def test_defaults_come_from_the_spec():
    spec = _request(build_parser().parse_args([]))
    assert spec.model == spec.dataset == "diabetes" and spec.promote == "auto"
    assert spec.hyperparameters == Hyperparameters(**RECIPES["diabetes"])  # the seed recipe
    assert Hyperparameters().hidden == [64]  # everything else: the tabular defaults
    assert from_flat({"model": "m", "dataset": "moons"}).moons == {"samples": 500, "noise": 0.2}


LIMITS = Limits(rows=20, epochs=100, layers=2, width=16, timeout=60)


@pytest.mark.parametrize(
    "flat,loc,msg",
    [
        ({"epochs": "101"}, ("hyperparameters", "epochs"), "at most 100 epochs"),
        ({"hidden": "4,4,4"}, ("hyperparameters", "hidden"), "at most 2 hidden layers"),
        ({"hidden": "4,17"}, ("hyperparameters", "hidden", 1), "at most 16 wide"),
        ({"timeout": "61"}, ("timeout",), "at most 60 s"),
        ({"dataset": "moons"}, ("samples",), "at most 20 rows"),
    ],
)
def test_limits_are_validators_that_apply_only_with_limits(flat, loc, msg):
    values = {"model": "m", "dataset": "xor", **flat}
    with pytest.raises(ValidationError) as caught:
        from_flat(values, LIMITS)
    err = caught.value.errors()[0]
    assert err["loc"] == loc and msg in err["msg"] and err["type"] == "limit"
    from_flat(values)  # offline (nns-train): no limits
