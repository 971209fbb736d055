"""The preprocessing half of an exported graph: raw feature inputs to the network's scaled input.

One input per feature, under the feature's name, shape [N, 1]:

* numbers (numeric and 0/1 features): float; NaN is a missing value, replaced by the stored
  median (Imputer) when the feature had missing values in training;
* dates: float, days since 1970-01-01 UTC (what /predict makes of ISO text: 2024-03-31T12:00Z
  is 19813.5), the network's own input; NaN is missing, as for numbers;
* text (binary with two words, categorical): string, spelled as V2's BYTES elements spell the
  value (service/serving/v2/signature.py: text as is, booleans true/false, numbers as JSON
  writes them); the empty string is the missing value of a feature that had missing values in
  training. A LabelEncoder turns the text into a row of a constant table (Gather): the
  feature's 0/1 code or one-hot columns, its missing column, and for any value not seen in
  training the training mean of the feature's columns, which the scaling maps to 0.

The columns are concatenated in the network's input order and standardised with the stored
mean and scale (Scaler). The whole is float32.

Where /predict refuses a row the graph cannot: a NaN in a number feature that had no missing
value in training passes through and makes that row's outputs NaN (an infinite number passes
through too); an empty string in a text feature that had none is a value never seen, scored at
the training mean.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto

from ..data.features import FeatureSpec
from ..training.model import TrainedModel
from .onnx_graph import ML, Graph, NotExportable
from .v2.signature import feature_input

DAYS = "days since 1970-01-01 UTC"  # a date input's unit (service/data/dates.py)


def takes_text(spec: FeatureSpec) -> bool:
    """Tell whether the feature's input is a string tensor (else a float one; dates are days)."""
    return spec.type != "date" and feature_input(spec).text is not None


def describe(spec: FeatureSpec) -> dict:
    """Return what a user needs to feed the feature's input: its type and accepted values."""
    info = feature_input(spec)
    out: dict = {"name": spec.name, "kind": spec.type, "nullable": spec.nullable}
    if not takes_text(spec):
        out["input"] = "float"
        if spec.type == "date":
            out["unit"] = DAYS
        if spec.nullable:
            out["missing"] = "NaN"
            out["impute"] = _impute(spec)
        return out
    out["input"] = "string"
    out["values"] = [text for text, value in info.text.items() if value is not None]
    if info.empty_is_missing:
        out["missing"] = ""
    return out


def _impute(spec: FeatureSpec) -> float:
    return spec.impute if spec.impute is not None else 0.0  # as FeatureSet encodes null


def _doc(spec: FeatureSpec) -> str:
    info = describe(spec)
    if info["input"] == "float":
        text = f"{spec.type} feature, float" + (f" ({DAYS})" if spec.type == "date" else "")
        if spec.nullable:
            text += f"; NaN is a missing value, imputed with {info['impute']:g}"
        return text
    text = f"{spec.type} feature, string: one of {', '.join(map(repr, info['values']))}"
    if "missing" in info:
        text += "; '' is a missing value"
    return text + "; any other text is scored at the training mean of this feature's columns"


KINDS = ("numeric", "binary", "categorical", "date")  # the feature kinds this graph can read


def scaled_inputs(graph: Graph, model: TrainedModel) -> str:
    """Declare one input per feature; return the name of the scaled matrix: (N, width)."""
    mean = np.asarray(model.scaler.mean, dtype=np.float64)
    columns, at = [], 0
    for spec in model.meta.features:
        if spec.type not in KINDS:  # a kind added later must not be read as another one
            raise NotExportable(
                f"feature {spec.name!r} is of kind {spec.type!r}, which ONNX export does not "
                f"handle yet (it handles {', '.join(KINDS)})"
            )
        graph.claim(spec.name, "feature")
        if takes_text(spec):
            graph.input(spec.name, TensorProto.STRING, 1, _doc(spec))
            columns.append(_text_columns(graph, spec, mean[at : at + spec.width]))
        else:
            graph.input(spec.name, TensorProto.FLOAT, 1, _doc(spec))
            columns.append(_number_column(graph, spec))
        at += spec.width
    raw = graph.op("Concat", columns, "encoded", axis=1)
    scale = np.asarray(model.scaler.scale, dtype=np.float64)
    return graph.op(
        "Scaler",
        [raw],
        "scaled",
        domain=ML,
        offset=mean.astype(np.float32).tolist(),
        scale=(1.0 / scale).astype(np.float32).tolist(),
    )


def _number_column(graph: Graph, spec: FeatureSpec) -> str:
    if not spec.nullable:
        return spec.name
    return graph.op(
        "Imputer",
        [spec.name],
        "imputed",
        domain=ML,
        imputed_value_floats=[_impute(spec)],
        replaced_value_float=math.nan,
    )


def _text_columns(graph: Graph, spec: FeatureSpec, mean: np.ndarray) -> str:
    """Map a string input to its encoded columns, (N, width), through a constant table."""
    text = feature_input(spec).text or {}
    values = list(spec.values or [])
    # The text map holds the spec's own value objects: find each one's position by identity
    # (True and 1 are equal in Python but different values of a feature).
    position = {id(v): i for i, v in enumerate(values)}
    codes = [len(values) if v is None else position[id(v)] for v in text.values()]
    width = len(values) + (1 if spec.nullable else 0)
    # binary: the code itself (0, 1; 2 for null); categorical: one-hot, the missing column last
    known = np.arange(width, dtype=np.float64)[:, None] if spec.type == "binary" else np.eye(width)
    unknown = len(known)
    table = np.vstack([known, mean[None, :]]).astype(np.float32)
    index = graph.op(
        "LabelEncoder",
        [spec.name],
        "code",
        domain=ML,
        keys_strings=list(text),
        values_int64s=codes,
        default_int64=unknown,
    )
    flat = graph.op("Reshape", [index, graph.const("flat", np.array([-1]))], "code")
    return graph.op("Gather", [graph.const("table", table), flat], "columns", axis=0)
