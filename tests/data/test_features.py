"""The one feature rule: every kind of feature, from every kind of source, checked and encoded."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from pydantic import ValidationError

from service.data.features import FeatureError, FeatureSet, FeatureSpec

SPECS = [
    FeatureSpec(name="age", type="numeric", min=1, max=90, nullable=True, impute=40.0),
    FeatureSpec(name="smoker", type="binary", values=[0, 1]),
    FeatureSpec(name="sex", type="binary", values=["female", "male"]),
    FeatureSpec(name="island", type="categorical", values=["Biscoe", "Dream", "Torgersen"]),
    FeatureSpec(name="colour", type="categorical", values=["red", "blue"], nullable=True),
]
ROW = {"age": 30, "smoker": 1, "sex": "male", "island": "Dream", "colour": None}


@pytest.fixture
def features() -> FeatureSet:
    return FeatureSet(SPECS)


def test_width_and_encoding_of_each_kind(features):
    assert features.width == 1 + 1 + 1 + 3 + 3
    X = features.encode(
        [[30, None], [1, 0], ["male", "female"], ["Dream", "Biscoe"], [None, "red"]]
    )
    assert X.tolist() == [
        [30, 1, 1, 0, 1, 0, 0, 0, 1],
        [40, 0, 0, 1, 0, 0, 1, 0, 0],  # null age imputed with the median
    ]


def test_bad_values_are_reported_per_feature_with_their_rows(features):
    columns = [[1.0, float("nan")], [1, 2], ["male", "x"], ["Mars", "Dream"], ["red", "blue"]]
    with pytest.raises(FeatureError) as caught:
        features.encode(columns)
    found = {(p.feature, tuple(p.rows)) for p in caught.value.problems}
    assert found == {("age", (1,)), ("smoker", (1,)), ("sex", (1,)), ("island", (0,))}
    island = next(p for p in caught.value.problems if p.feature == "island")
    assert island.msg == "accepts only one of 'Biscoe', 'Dream', 'Torgersen'"
    assert island.column == 3


def test_types_are_not_coerced(features):
    for column, value in [(2, 1), (3, 1.0), (1, True), (1, "1")]:
        columns = [[30], [1], ["male"], ["Dream"], ["red"]]
        columns[column] = [value]
        with pytest.raises(FeatureError):
            features.encode(columns)


def test_json_rows_the_fast_path_and_pydantic_agree(features):
    adapter = features.request_adapter("Test", max_batch=10)
    bodies = [
        {"instances": [ROW, {**ROW, "colour": "red", "age": None}]},
        {"instances": [{**ROW, "island": "Mars"}]},
        {"instances": [{**ROW, "age": "30"}]},
        {"instances": [{**ROW, "sex": None}]},
        {"instances": [{**ROW, "smoker": True}]},
        {"instances": [{k: v for k, v in ROW.items() if k != "sex"}]},
    ]
    for body in bodies:
        raw = orjson.dumps(body)
        fast = features.plain_rows(orjson.loads(raw)["instances"])
        try:
            want = features.encode_rows(adapter.validate_json(raw)["instances"])[0]
        except ValidationError:
            assert fast is None, body
        else:
            assert fast is not None and fast.tobytes() == want.tobytes(), body


def test_unknown_category_error_lists_the_allowed_values(features):
    adapter = features.request_adapter("Test", max_batch=10)
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python({**ROW, "island": "Mars"})
    assert "'Biscoe', 'Dream' or 'Torgersen'" in str(caught.value)


def test_a_numeric_only_set_checks_a_whole_matrix():
    features = FeatureSet([FeatureSpec(name="a", type="numeric"), SPECS[1]])
    X = np.array([[0.5, 1.0], [np.inf, 0.0], [1.0, 3.0]])
    with pytest.raises(FeatureError) as caught:
        features.check_matrix(X)
    assert [(p.feature, p.rows) for p in caught.value.problems] == [("a", [1]), ("smoker", [2])]
    assert features.check_matrix(X[:1]) is not None


def test_a_feature_of_two_booleans_is_binary_on_its_values_not_numbers():
    spec = FeatureSpec(name="member", type="binary", values=[False, True])
    assert not spec.zero_one  # [False, True] == [0, 1] in Python: not a 0/1 number feature
    features = FeatureSet([spec])
    assert features.encode([[True, False]]).tolist() == [[1.0], [0.0]]
    with pytest.raises(FeatureError):
        features.encode([[1, 0]])


def test_each_kind_describes_itself_in_one_line():
    assert [s.describe() for s in SPECS] == [
        "numeric [1, 90], missing values imputed with 40",
        "binary: 0, 1",
        "binary: female, male",
        "categorical: Biscoe, Dream, Torgersen",
        "categorical: red, blue + missing as a category",
    ]
    day = FeatureSpec(name="d", type="date", min=19000, max=19500.5, nullable=True, impute=19100)
    assert day.describe() == (
        "date (ISO-8601 text) from 2022-01-08 to 2023-05-23T12:00:00, read as days since "
        "1970-01-01, missing values imputed with 2022-04-18"
    )


def test_a_date_feature_takes_iso_text_or_null():
    spec = FeatureSpec(name="d", type="date", min=0, max=10, nullable=True, impute=5)
    features = FeatureSet([spec])
    assert features.encode([["1970-01-02", None, "1970-01-01T12:00Z"]]).tolist() == [
        [1.0],
        [5.0],
        [0.5],
    ]
    with pytest.raises(FeatureError) as caught:
        features.encode([["1970-01-02", "02/01/1970", 3]])
    assert caught.value.problems[0].rows == [1, 2]
    assert features.plain_rows([{"d": "1970-01-03"}]).tolist() == [[2.0]]
