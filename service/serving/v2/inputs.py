"""Turn a V2 request's input tensors into the model's feature matrix, checked like /predict."""

from __future__ import annotations

import numpy as np

from ...data.features import FeatureError, FeatureSet, Unknown
from .schemas import RequestInput
from .signature import FeatureInput, Signature
from .tensors import from_bytes, from_json, invalid, shape_text

MATRIX = "features"  # the one-tensor form: [N, F], columns in the model card's order
UNSUPPORTED = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")


def feature_matrix(
    inputs: list[RequestInput],
    raw: bytes | memoryview,
    features: FeatureSet,
    max_batch: int,
    sig: Signature,
    strict: bool = False,
) -> tuple[np.ndarray, list[Unknown]]:
    """Return the model input X: (n, width) from the input tensors, and the values never seen
    in training (NaN in X; refused when `strict`); `raw` is the binary section.

    Values are checked and encoded by the feature rule, as /predict's are.
    """
    names = features.names
    matrix = _check_names(inputs, names, sig)
    n = _batch_size(inputs, matrix, len(names), max_batch)
    if not matrix:
        _check_datatypes(inputs, sig)
    elif inputs[0].datatype == "BYTES":
        raise invalid(
            f"input {MATRIX!r} must be a number tensor (FP32, FP64, an integer datatype or "
            "BOOL), not BYTES",
            ["inputs", 0, "datatype"],
        )
    arrays = _decode(inputs, raw)
    columns: list = []
    try:
        if matrix:
            with np.errstate(over="ignore"):  # FP64 values too large for FP32 became inf
                X = arrays[0].astype(np.float64)
            if features.numeric:
                return features.check_matrix(X), []
            # Nullable numeric features: NaN is a missing value, imputed by the feature rule.
            return features.encode([X[:, j] for j in range(X.shape[1])]), []
        by_name = {
            inp.name: (i, inp.datatype, values.reshape(n))
            for i, (inp, values) in enumerate(zip(inputs, arrays, strict=True))
        }
        columns = [_column(f, *by_name[f.name][1:]) for f in sig.inputs]
        if strict:
            return features.encode(columns), []
        return features.encode_lenient(columns)
    except FeatureError as exc:
        p = exc.problems[0]
        if matrix:
            where, loc = f" (column {p.column} of {MATRIX!r})", ["inputs", 0, "data"]
            raise invalid(f"feature {p.feature!r}{where} {p.msg}", loc) from None
        loc = ["inputs", by_name[p.feature][0], "data"]
        feature = sig.by_name[p.feature]
        if not feature.one_of:
            raise invalid(f"feature {p.feature!r} {p.msg}", loc) from None
        raise invalid(_not_a_value(feature, p.rows, columns[p.column]), loc) from None


def _column(feature: FeatureInput, datatype: str, values: np.ndarray):
    """Return one feature's raw column for the feature rule from its decoded tensor."""
    if feature.numbers:
        return values  # numbers (BOOL as 0 and 1); NaN is missing for a nullable feature
    if datatype == "BYTES":
        # Unknown text stays text: it equals none of the feature's values, so the rule scores it
        # as unknown (or refuses it when strict).
        text = feature.text or {}
        # "" is the missing value: refused where training had none, as null is on /predict.
        return [None if t == "" and "" not in text else text.get(t, t) for t in values.tolist()]
    if datatype == "BOOL":
        return values.astype(bool).tolist()
    column = values.astype(np.float64).tolist()  # number-valued categories
    if feature.spec.nullable:
        column = [None if v != v else v for v in column]  # NaN is missing
    return column


def _not_a_value(feature: FeatureInput, rows: list[int], column: list) -> str:
    """Say which rows hold a value a text feature was not trained on, without echoing it."""
    shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
    message = (
        f"feature {feature.name!r}: row{'s' if len(rows) > 1 else ''} {shown} "
        f"{'are' if len(rows) > 1 else 'is'} not one of its values; it accepts only one of "
        f"{feature.allowed()}"
    )
    if not feature.spec.nullable and any(column[r] is None for r in rows):
        message += " (it had no missing values in training, so an empty string is refused)"
    return message


def _check_names(inputs: list[RequestInput], names: list[str], sig: Signature) -> bool:
    """Refuse unknown, repeated, missing or mixed inputs; return whether the matrix form is used."""
    offer = MATRIX in names or not sig.matrix  # `features` is a feature's name, or not offered
    allowed = set(names) if offer else {MATRIX, *names}
    forms = (
        f"send {MATRIX!r} with shape [N, {len(names)}] or one tensor per feature"
        if sig.matrix
        else "send one tensor per feature"
    )
    seen: set[str] = set()
    for i, inp in enumerate(inputs):
        if inp.name == MATRIX and MATRIX not in allowed:
            raise invalid(
                f"input {MATRIX!r} is only for models whose features are all numbers; this "
                f"model has text features: send one tensor per feature: {', '.join(names)}",
                ["inputs", i, "name"],
            )
        if inp.name not in allowed:  # the name is not echoed: it is the client's text
            raise invalid(
                f"input {i} is not an input of this model; {forms}: {', '.join(names)}",
                ["inputs", i, "name"],
            )
        if inp.name in seen:
            raise invalid(f"input {inp.name!r} is given more than once", ["inputs", i, "name"])
        seen.add(inp.name)
    matrix = MATRIX in seen and MATRIX not in names
    if matrix and len(inputs) > 1:
        raise invalid(
            f"send either one {MATRIX!r} tensor or one tensor per feature, not both", ["inputs"]
        )
    missing = [] if matrix else [name for name in names if name not in seen]
    if missing:
        raise invalid(f"missing input for feature {', '.join(missing)}; {forms}", ["inputs"])
    return matrix


def _check_datatypes(inputs: list[RequestInput], sig: Signature) -> None:
    """Refuse a per-feature tensor whose datatype its feature does not take, before any data."""
    for i, inp in enumerate(inputs):
        feature = sig.by_name[inp.name]
        if inp.datatype not in feature.accepted:
            kind = "numeric" if feature.numbers else feature.spec.type
            raise invalid(
                f"input {inp.name!r} has datatype {inp.datatype} but feature {inp.name!r} is "
                f"{kind}: send {feature.accepts()}",
                ["inputs", i, "datatype"],
            )


def _batch_size(inputs: list[RequestInput], matrix: bool, width: int, max_batch: int) -> int:
    """Check every shape before any data is read; return the number of rows N."""
    if matrix:
        shape = inputs[0].shape
        if len(shape) != 2 or shape[1] != width:
            raise invalid(
                f"input {MATRIX!r} must have shape [N, {width}] (one column per feature, in the "
                f"model card's order); got {shape_text(shape)}",
                ["inputs", 0, "shape"],
            )
        n = shape[0]
    else:
        n = inputs[0].shape[0] if inputs[0].shape else 0
        for i, inp in enumerate(inputs):
            shape = inp.shape
            if len(shape) not in (1, 2) or shape[1:] not in ([], [1]):
                raise invalid(
                    f"input {inp.name!r} must have shape [N] or [N, 1]; got {shape_text(shape)}",
                    ["inputs", i, "shape"],
                )
            if shape[0] != n:
                raise invalid(
                    f"inputs disagree on the batch size: {inp.name!r} has {shape[0]} rows, "
                    f"{inputs[0].name!r} has {n}",
                    ["inputs", i, "shape"],
                )
    if n < 1:
        raise invalid("the batch is empty: the shape has 0 rows", ["inputs", 0, "shape"])
    if n > max_batch:
        raise invalid(f"a batch of {n} rows is over the limit of {max_batch}", ["inputs"])
    return n


def _binary_size(i: int, inp: RequestInput) -> int | None:
    """Check where an input's data comes from; return its binary_data_size, None for JSON data."""
    params = inp.parameters
    label, loc = f"input {inp.name!r}", ["inputs", i]
    if params and any(key in (params.model_extra or {}) for key in UNSUPPORTED):
        raise invalid(f"{label}: shared memory is not supported", [*loc, "parameters"])
    size = params.binary_data_size if params else None
    if size is None and inp.data is None:
        raise invalid(
            f"{label} has no data: give data or parameters.binary_data_size", [*loc, "data"]
        )
    if size is not None and inp.data is not None:
        raise invalid(f"{label} has both data and binary_data_size", [*loc, "data"])
    return size


def _decode(inputs: list[RequestInput], raw: bytes | memoryview) -> list[np.ndarray]:
    """Read each tensor from its JSON data or its slice of the binary section, in input order."""
    sizes = [_binary_size(i, inp) for i, inp in enumerate(inputs)]
    declared = sum(s for s in sizes if s is not None)
    if declared != len(raw):
        raise invalid(
            f"the inputs declare {declared} bytes of binary data but {len(raw)} follow the "
            "JSON header (see Inference-Header-Content-Length)",
            ["inputs"],
        )
    arrays, offset = [], 0
    for i, (inp, size) in enumerate(zip(inputs, sizes, strict=True)):
        label = f"input {inp.name!r}"
        if size is None:
            loc = ["inputs", i, "data"]
            arrays.append(from_json(inp.data, inp.datatype, inp.shape, label, loc))
        else:
            loc = ["inputs", i, "parameters", "binary_data_size"]
            arrays.append(from_bytes(raw, offset, size, inp.datatype, inp.shape, label, loc))
            offset += size
    return arrays
