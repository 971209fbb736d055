"""V2 on models trained from real tabular data: text features as BYTES, text and boolean labels.

Models are trained here from CSV text (a two-word binary feature, a categorical one, numbers
with missing cells, a categorical with missing cells) and from JSON rows with booleans; every
V2 answer, JSON or binary, must equal /predict's row for row.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import orjson
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import serialize_byte_tensor

from model_store import ModelStore
from service.data.csvfile import read_csv_text
from service.data.dataset import from_rows
from service.serving.v2 import signature
from service.serving.v2.tensors import strings_from_bytes
from service.training.pipeline import train_model
from service.training.spec import Hyperparameters, TrainSpec
from service.web.app import create_app
from tests.support.training import SPECIES, penguins_csv

HEADER = "Inference-Header-Content-Length"
FEATURES = ["island", "sex", "bill", "diet"]  # the CSV's order, without the targets


# JSON rows with booleans: `answer` is a category of two booleans and a word; the target is
# boolean. (A feature of exactly two booleans is read as 0/1 numbers by the feature rule today.)
FLAG_ROWS = [
    {"answer": (False, True, "maybe", True)[i % 4], "score": float(i % 5),
     "tier": ("gold", "silver", "bronze")[i % 3], "renewed": i % 4 == 1 or i % 5 == 4}
    for i in range(40)
]  # fmt: skip


def _nulls_row(i: int) -> str:
    a = "" if i % 6 == 0 else str(i % 4)
    b = "NA" if i % 5 == 1 else f"{(i * 7) % 10 / 3:.3g}"
    return f"{a},{b},{int(i % 4 > 1)}\n"


NULLS_CSV = "a,b,y\n" + "".join(_nulls_row(i) for i in range(40))  # gaps in both features


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("v2text")
    store = ModelStore(root / "models")
    params = Hyperparameters(hidden=[8], epochs=40, learning_rate=0.01)
    text = penguins_csv()

    def fit(name: str, data) -> None:
        train_model(TrainSpec(model=name, hyperparameters=params, promote="always"), data, store)

    fit("penguins", read_csv_text(text, "species", exclude=("big", "mass")))
    fit("big", read_csv_text(text, "big", exclude=("species", "mass")))
    fit("mass", read_csv_text(text, "mass", exclude=("species", "big")))
    fit("flags", from_rows(FLAG_ROWS, "renewed"))
    fit("nulls", read_csv_text(NULLS_CSV, "y"))
    app = create_app({"data_dir": root, "model_store": store.root, "max_batch": 50})
    return app.test_client()


# --- helpers ------------------------------------------------------------------------------------
def tensor(name: str, shape: list, datatype: str, data=None, **params) -> dict:
    out: dict = {"name": name, "shape": shape, "datatype": datatype}
    if data is not None:
        out["data"] = data
    if params:
        out["parameters"] = params
    return out


def framed(texts: list[str | bytes]) -> bytes:
    """BYTES elements as the binary extension sends them: 4-byte LE length, then the bytes."""
    parts = [t if isinstance(t, bytes) else t.encode() for t in texts]
    return b"".join(struct.pack("<I", len(p)) + p for p in parts)


def post(client, model: str, body: dict | bytes, headers: dict | None = None):
    # json.dumps writes NaN as the NaN literal, as Python clients (tritonclient) do.
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(f"/v2/models/{model}/infer", data=data, headers=headers or {})


def binary_body(
    inputs: list[tuple[str, str, bytes]], n: int | None = None, **extra
) -> tuple[bytes, dict]:
    """(name, datatype, raw bytes) per input, shape [n] -> a binary-extension body, its header."""
    n = n or ROWS_N
    head = orjson.dumps(
        {
            "inputs": [
                tensor(name, [n], dt, binary_data_size=len(raw)) for name, dt, raw in inputs
            ],
            **extra,
        }
    )
    return head + b"".join(raw for _, _, raw in inputs), {HEADER: str(len(head))}


def result(resp) -> httpclient.InferResult:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    length = resp.headers.get(HEADER)
    return httpclient.InferResult.from_response_body(
        resp.data, header_length=int(length) if length else None
    )


def predict(client, model: str, rows: list[dict]) -> list[dict]:
    resp = client.post(f"/models/{model}/predict", json={"instances": rows})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["predictions"]


def texts(array: np.ndarray) -> list[str]:
    """A BYTES output as str: tritonclient gives str from JSON data, bytes from binary data."""
    return [v.decode() if isinstance(v, bytes) else v for v in array.tolist()]


def f32(values) -> list[float]:
    return np.float32(values).tolist()


# Rows as /predict takes them; None is a missing value (bill and diet had gaps in training).
ROWS = [
    {"island": "Biscoe", "sex": "female", "bill": 38.2, "diet": "fish"},
    {"island": "Dream", "sex": "male", "bill": None, "diet": "krill"},
    {"island": "Torgersen", "sex": "female", "bill": 48.9, "diet": None},
    {"island": "Dream", "sex": "male", "bill": 43.0, "diet": "fish"},
    {"island": "Biscoe", "sex": "male", "bill": None, "diet": None},
]
ROWS_N = len(ROWS)
BILL = np.array([math.nan if r["bill"] is None else r["bill"] for r in ROWS], "<f8")


def column(name: str) -> list:
    """One feature's V2 elements: missing numbers are NaN, missing text the empty string."""
    if name == "bill":
        return BILL.tolist()
    return ["" if r[name] is None else r[name] for r in ROWS]


def json_inputs() -> list[dict]:
    return [
        tensor(name, [ROWS_N], "FP64" if name == "bill" else "BYTES", column(name))
        for name in FEATURES
    ]


def binary_inputs() -> list[tuple[str, str, bytes]]:
    return [
        (name, "FP64", BILL.tobytes()) if name == "bill" else (name, "BYTES", framed(column(name)))
        for name in FEATURES
    ]


# --- metadata -----------------------------------------------------------------------------------
def test_metadata_lists_one_tensor_per_feature_and_text_labels(client):
    meta = client.get("/v2/models/penguins").get_json()
    assert meta["inputs"] == [
        {"name": "island", "datatype": "BYTES", "shape": [-1]},
        {"name": "sex", "datatype": "BYTES", "shape": [-1]},
        {"name": "bill", "datatype": "FP64", "shape": [-1]},
        {"name": "diet", "datatype": "BYTES", "shape": [-1]},
    ]
    assert meta["outputs"] == [
        {"name": "probability", "datatype": "FP32", "shape": [-1, 3]},
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
    ]
    props = meta["properties"]
    assert props["task"] == "multiclass" and props["features"] == "island,sex,bill,diet"
    assert props["inputs"] == "one tensor per feature ([N] or [N, 1])"
    assert props["nullable"] == "bill,diet"
    assert json.loads(props["classes"]) == SPECIES
    assert "positive_class" not in props
    card = client.get("/models/penguins").get_json()
    assert json.loads(props["classes"]) == card["classes"]


def test_metadata_of_a_yes_no_model_names_the_class_probability_is_for(client):
    meta = client.get("/v2/models/big").get_json()
    assert meta["outputs"] == [
        {"name": "probability", "datatype": "FP32", "shape": [-1, 1]},
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
    ]
    assert json.loads(meta["properties"]["classes"]) == ["No", "Yes"]
    assert meta["properties"]["positive_class"] == "Yes"
    assert client.get("/models/big").get_json()["classes"][1] == "Yes"


def test_metadata_of_booleans_and_of_nullable_numbers(client):
    meta = client.get("/v2/models/flags").get_json()
    assert meta["inputs"] == [
        {"name": "answer", "datatype": "BYTES", "shape": [-1]},
        {"name": "score", "datatype": "FP64", "shape": [-1]},
        {"name": "tier", "datatype": "BYTES", "shape": [-1]},
    ]
    assert meta["outputs"][1] == {"name": "label", "datatype": "BOOL", "shape": [-1]}
    assert meta["properties"]["classes"] == "[false,true]"
    assert meta["properties"]["positive_class"] == "true"
    # Every feature a number, some nullable: the one `features` tensor is still offered.
    meta = client.get("/v2/models/nulls").get_json()
    assert meta["inputs"] == [{"name": "features", "datatype": "FP64", "shape": [-1, 2]}]
    assert meta["properties"]["nullable"] == "a,b"
    assert meta["properties"]["inputs"].startswith("features [N, 2], or one tensor per feature")
    assert meta["outputs"][1] == {"name": "label", "datatype": "INT64", "shape": [-1]}


# --- answers equal /predict ---------------------------------------------------------------------
@pytest.mark.parametrize("model", ["penguins", "big"])
def test_json_and_binary_infer_equal_predict_row_for_row(client, model):
    want = predict(client, model, ROWS)
    as_json = result(post(client, model, {"inputs": json_inputs()}))
    body, headers = binary_body(binary_inputs(), parameters={"binary_data_output": True})
    resp = post(client, model, body, headers)
    assert resp.mimetype == "application/octet-stream"
    as_binary = result(resp)
    for res in (as_json, as_binary):
        labels = res.as_numpy("label")
        assert labels.dtype == object and labels.shape == (ROWS_N,)
        assert texts(labels) == [p["label"] for p in want]
        probability = res.as_numpy("probability")
        assert probability.dtype == np.float32
        if model == "big":
            assert probability.shape == (ROWS_N, 1)
            assert probability[:, 0].tolist() == f32([p["probability"] for p in want])
        else:
            assert probability.tolist() == f32([p["probabilities"] for p in want])
    out = {o["name"]: o for o in as_json.get_response()["outputs"]}
    assert out["label"]["datatype"] == "BYTES" and out["label"]["data"] == [
        p["label"] for p in want
    ]
    out = {o["name"]: o for o in as_binary.get_response()["outputs"]}
    assert out["label"]["datatype"] == "BYTES"


def test_regression_with_text_features_equals_predict(client):
    want = predict(client, "mass", ROWS)
    res = result(post(client, "mass", {"inputs": json_inputs()}))
    assert res.as_numpy("prediction")[:, 0].tolist() == [p["prediction"] for p in want]


def test_per_feature_layouts_and_datatypes_give_the_same_answer(client):
    want = predict(client, "penguins", ROWS)
    nested = [
        tensor(
            name, [ROWS_N, 1], "FP32" if name == "bill" else "BYTES", [[v] for v in column(name)]
        )
        for name in reversed(FEATURES)
    ]
    res = result(post(client, "penguins", {"inputs": nested}))
    # bill as FP32 rounds it: the labels agree, the probabilities need not be bit-equal.
    assert texts(res.as_numpy("label")) == [p["label"] for p in want]
    mixed, headers = binary_body(
        [("sex", "BYTES", framed(column("sex"))), ("bill", "FP64", BILL.tobytes())],
    )
    head_len = int(headers[HEADER])
    head = orjson.loads(mixed[:head_len])
    head["inputs"] += [tensor(name, [ROWS_N], "BYTES", column(name)) for name in ("diet", "island")]
    head_bytes = orjson.dumps(head)
    body = head_bytes + mixed[head_len:]
    res = result(post(client, "penguins", body, {HEADER: str(len(head_bytes))}))
    assert texts(res.as_numpy("label")) == [p["label"] for p in want]
    assert res.as_numpy("probability").tolist() == f32([p["probabilities"] for p in want])


def test_selected_label_output_as_binary_bytes(client):
    want = predict(client, "big", ROWS)
    body = {
        "inputs": json_inputs(),
        "outputs": [{"name": "label", "parameters": {"binary_data": True}}],
    }
    resp = post(client, "big", body)
    head_len = int(resp.headers[HEADER])
    head = orjson.loads(resp.data[:head_len])
    assert head["outputs"] == [
        {
            "name": "label",
            "datatype": "BYTES",
            "shape": [ROWS_N],
            "parameters": {"binary_data_size": len(resp.data) - head_len},
        }
    ]
    assert resp.data[head_len:] == framed([p["label"] for p in want])


def test_booleans_travel_as_bool_or_as_true_and_false(client):
    # Rows whose `answer` is a boolean, so that BOOL can carry it too.
    rows = [{k: v for k, v in r.items() if k != "renewed"} for r in FLAG_ROWS[:8]]
    rows = [r for r in rows if r["answer"] != "maybe"]
    n = len(rows)
    want = predict(client, "flags", rows)
    answers = [r["answer"] for r in rows]
    scores = [r["score"] for r in rows]
    tiers = [r["tier"] for r in rows]
    as_bool = [
        tensor("answer", [n], "BOOL", answers),
        tensor("score", [n], "INT32", [int(s) for s in scores]),
        tensor("tier", [n], "BYTES", tiers),
    ]
    as_text = [
        tensor("answer", [n], "BYTES", ["true" if a else "false" for a in answers]),
        tensor("score", [n], "FP64", scores),
        tensor("tier", [n], "BYTES", tiers),
    ]
    for inputs in (as_bool, as_text):
        res = result(post(client, "flags", {"inputs": inputs}))
        labels = res.as_numpy("label")
        assert labels.dtype == np.bool_
        assert labels.tolist() == [p["label"] for p in want]
        assert res.as_numpy("probability")[:, 0].tolist() == f32([p["probability"] for p in want])
    body, headers = binary_body(
        [
            ("answer", "BOOL", np.array(answers, dtype=bool).tobytes()),
            ("score", "FP64", np.array(scores, "<f8").tobytes()),
            ("tier", "BYTES", framed(tiers)),
        ],
        n,
        parameters={"binary_data_output": True},
    )
    res = result(post(client, "flags", body, headers))
    assert res.as_numpy("label").dtype == np.bool_
    assert res.as_numpy("label").tolist() == [p["label"] for p in want]
    # The word and the booleans together, as text; True spelled otherwise is not True.
    mixed = predict(client, "flags", [{**rows[0], "answer": "maybe"}])
    inputs = [tensor("answer", [1], "BYTES", ["maybe"]), *as_text[1:]]
    inputs[1:] = [tensor(t["name"], [1], t["datatype"], t["data"][:1]) for t in inputs[1:]]
    res = result(post(client, "flags", {"inputs": inputs}))
    assert res.as_numpy("label").tolist() == [mixed[0]["label"]]
    inputs[0] = tensor("answer", [1], "BYTES", ["True"])
    resp = post(client, "flags", {"inputs": inputs, "parameters": {"strict": True}})
    assert resp.status_code == 400
    assert "it accepts only one of 'maybe', 'false', 'true'" in resp.get_json()["error"]
    resp = post(client, "flags", {"inputs": inputs})  # not strict: scored as unknown, said so
    assert resp.status_code == 200 and "answer: 'True' was not seen" in str(resp.get_json())


def test_all_numeric_nullable_model_reads_nan_as_missing(client):
    rows = [{"a": 1, "b": None}, {"a": None, "b": 2.5}, {"a": 3, "b": 0.333}]
    want = predict(client, "nulls", rows)
    X = [[math.nan if v is None else v for v in r.values()] for r in rows]
    for inputs in (
        [tensor("features", [3, 2], "FP64", X)],
        [
            tensor(n, [3], "FP32" if n == "a" else "FP64", [x[j] for x in X])
            for j, n in enumerate("ab")
        ],
    ):
        res = result(post(client, "nulls", {"inputs": inputs}))
        assert res.as_numpy("label").tolist() == [p["label"] for p in want]
        assert res.as_numpy("probability")[:, 0].tolist() == f32([p["probability"] for p in want])
    # NaN is refused where no value was missing in training.
    resp = post(client, "flags", {"inputs": [
        tensor("answer", [1], "BOOL", [True]),
        tensor("score", [1], "FP64", [math.nan]),
        tensor("tier", [1], "BYTES", ["gold"]),
    ]})  # fmt: skip
    assert resp.status_code == 400 and "feature 'score' must be finite" in resp.get_json()["error"]


# --- bad requests -------------------------------------------------------------------------------
def replaced(name: str, new: dict) -> dict:
    return {"inputs": [new if t["name"] == name else t for t in json_inputs()]}


BAD = {
    "unknown category": (
        replaced(
            "island", tensor("island", [5], "BYTES", ["Biscoe", "Atlantis", "Dream", "x", "Dream"])
        ),
        "feature 'island': rows 1, 3 are not one of its values; it accepts only one of "
        "'Biscoe', 'Dream', 'Torgersen'",
    ),
    "empty string where nothing was missing": (
        replaced("sex", tensor("sex", [5], "BYTES", ["male", "", "male", "female", "male"])),
        "feature 'sex': row 1 is not one of its values; it accepts only one of 'female', 'male' "
        "(it had no missing values in training, so an empty string is refused)",
    ),
    "unknown category of a nullable feature": (
        replaced("diet", tensor("diet", [5], "BYTES", ["fish", "squid", "", "krill", ""])),
        "accepts only one of 'fish', 'krill'; an empty string is a missing value",
    ),
    "case matters": (
        replaced("sex", tensor("sex", [5], "BYTES", ["Male"] * 5)),
        "feature 'sex': rows 0, 1, 2, 3, 4 are not one of its values",
    ),
    "numbers for a text feature": (
        replaced("island", tensor("island", [5], "FP32", [0, 1, 2, 0, 1])),
        "input 'island' has datatype FP32 but feature 'island' is categorical: send BYTES "
        "(UTF-8 text)",
    ),
    "BOOL for a text feature": (
        replaced("sex", tensor("sex", [5], "BOOL", [True] * 5)),
        "input 'sex' has datatype BOOL but feature 'sex' is binary: send BYTES",
    ),
    "BYTES for a numeric feature": (
        replaced("bill", tensor("bill", [5], "BYTES", ["40.1"] * 5)),
        "input 'bill' has datatype BYTES but feature 'bill' is numeric: send a number tensor",
    ),
    "numbers in BYTES data": (
        replaced(
            "island", tensor("island", [5], "BYTES", ["Biscoe", 1, "Dream", "Dream", "Dream"])
        ),
        "input 'island': BYTES data must hold strings",
    ),
    "null in BYTES data": (
        replaced("diet", tensor("diet", [5], "BYTES", ["fish", None, "fish", "fish", "fish"])),
        "input 'diet': BYTES data must hold strings",
    ),
    "BYTES data count disagrees with shape": (
        replaced("island", tensor("island", [5], "BYTES", ["Biscoe"] * 4)),
        "input 'island': data has 4 values but shape [5] needs 5",
    ),
    "ragged nested BYTES": (
        replaced(
            "island",
            tensor("island", [5, 1], "BYTES", [["Biscoe"], ["Dream", "Dream"], [], ["a"], ["b"]]),
        ),
        "input 'island': data is ragged",
    ),
    "nested BYTES disagrees with shape": (
        replaced("island", tensor("island", [5], "BYTES", [["Biscoe"]] * 5)),
        "nested data has shape [5, 1] but the input declares [5]",
    ),
    "the features tensor on a text model": (
        {"inputs": [tensor("features", [1, 4], "FP64", [0, 1, 40, 0])]},
        "input 'features' is only for models whose features are all numbers; this model has "
        "text features: send one tensor per feature: island, sex, bill, diet",
    ),
    "missing feature": (
        {"inputs": json_inputs()[:3]},
        "missing input for feature diet; send one tensor per feature",
    ),
    "unknown input": (
        {"inputs": [*json_inputs(), tensor("zz9", [5], "BYTES", ["a"] * 5)]},
        "input 4 is not an input of this model; send one tensor per feature: island, sex",
    ),
}


@pytest.mark.parametrize("body, message", BAD.values(), ids=BAD.keys())
def test_bad_text_inputs_are_400_naming_the_input(client, body, message):
    # strict: a value never seen in training is refused too (else it is scored as unknown).
    resp = post(client, "penguins", {**body, "parameters": {"strict": True}})
    assert resp.status_code == 400, resp.get_data(as_text=True)
    err = resp.get_json()
    assert message in err["error"]
    assert err["code"] == "validation_error" and err["details"] and err["request_id"]
    for echoed in ("Atlantis", "squid", "Male", "40.1", "zz9"):
        assert echoed not in resp.get_data(as_text=True)


FOUR = framed(["Biscoe"] * 4)
BAD_BINARY = {
    "length past the end": (
        FOUR + struct.pack("<I", 99) + b"Dream",
        "BYTES element 4 says 99 bytes but only 5 remain",
    ),
    "length cut off": (FOUR + b"\x05\x00", "BYTES element 4 is cut off"),
    "bytes left over": (framed(["Biscoe"] * 5) + b"\x00", "its 5 BYTES elements take 50"),
    "too short for the shape": (FOUR[:18], "too few for 5 BYTES elements"),
    "not UTF-8": (
        framed(["Biscoe", b"Dr\xffam", "Dream", "Dream", "Dream"]),
        "BYTES element 1 is not valid UTF-8",
    ),
    "unknown category": (
        framed(["Biscoe", "Dream", "Atlantis", "Dream", "Dream"]),
        "row 2 is not one of its values",
    ),
}


@pytest.mark.parametrize("island, message", BAD_BINARY.values(), ids=BAD_BINARY.keys())
def test_bad_binary_bytes_are_400_naming_the_input(client, island, message):
    inputs = [(n, dt, island if n == "island" else raw) for n, dt, raw in binary_inputs()]
    body, headers = binary_body(inputs, parameters={"strict": True})
    resp = post(client, "penguins", body, headers)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    err = resp.get_json()
    assert message in err["error"] and "'island'" in err["error"]
    assert err["details"][0]["loc"][:2] == ["inputs", 0]
    assert "Atlantis" not in resp.get_data(as_text=True)


def test_invalid_utf8_in_a_json_body_is_400(client):
    body = json.dumps({"inputs": json_inputs()}).encode().replace(b"Dream", b"Dr\xffam", 1)
    resp = post(client, "penguins", body)
    assert resp.status_code == 400 and "not valid JSON" in resp.get_json()["error"]


# --- the pieces: label datatypes, BYTES framing as tritonclient writes it -----------------------
@pytest.mark.parametrize(
    "classes, datatype, elements",
    [
        ([0, 1], "INT64", [0, 1]),
        ([2, 5, 7], "INT64", [2, 5, 7]),
        ([False, True], "BOOL", [False, True]),
        ([0.5, 1.5], "FP64", [0.5, 1.5]),
        (["No", "Yes"], "BYTES", ["No", "Yes"]),
        (["maybe", False, True], "BYTES", ["maybe", "false", "true"]),
        (["a", 2], "BYTES", ["a", "2"]),
    ],
)
def test_label_datatype_follows_the_classes(classes, datatype, elements):
    labels = signature.labels(classes)
    assert labels.datatype == datatype
    assert labels.values.tolist() == elements
    if datatype == "BYTES":
        assert labels.framed == [signature.frame(t) for t in elements]


def test_bytes_elements_read_as_tritonclient_writes_them():
    words = np.array(["Zürich", "", "🐧 penguin", "Dream"], dtype=object)
    raw = serialize_byte_tensor(words).item()
    texts = strings_from_bytes(b"xx" + raw, 2, len(raw), [2, 2], "input 'x'", [])
    assert texts.shape == (2, 2) and texts.ravel().tolist() == words.tolist()
    assert framed(words.tolist()) == raw


def test_an_unknown_category_is_scored_at_the_average_with_a_warning_naming_its_row(client):
    body = replaced(
        "island", tensor("island", [5], "BYTES", ["Biscoe", "Atlantis", "Dream", "Dream", "Dream"])
    )
    resp = post(client, "penguins", body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    warnings = resp.get_json()["parameters"]["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith("row 1: island: 'Atlantis' was not seen")
    # The same rows over /predict: the same answer for the unknown row, with its warning.
    rows = [dict(zip([t["name"] for t in body["inputs"]], vals, strict=True))
            for vals in zip(*[t["data"] for t in body["inputs"]], strict=True)]  # fmt: skip
    missing = ("", math.nan)  # V2's missing text and numbers; null in JSON
    rows = [{k: (None if v in missing or v != v else v) for k, v in r.items()} for r in rows]
    answer = client.post("/models/penguins/predict", json={"instances": rows}).get_json()
    assert "warnings" in answer["predictions"][1] and "warnings" not in answer["predictions"][0]
    labels = result(resp).as_numpy("label").tolist()
    assert [x.decode() if isinstance(x, bytes) else x for x in labels] == [
        p["label"] for p in answer["predictions"]
    ]
