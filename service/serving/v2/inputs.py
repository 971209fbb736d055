"""Turn a V2 request's input tensors into the model's feature matrix, checked like /predict."""

from __future__ import annotations

import numpy as np

from ...data.features import FeatureError, FeatureSet
from .schemas import RequestInput
from .tensors import from_bytes, from_json, invalid, shape_text

MATRIX = "features"  # the one-tensor form: [N, F], columns in the model card's order
UNSUPPORTED = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")


def feature_matrix(
    inputs: list[RequestInput], raw: bytes | memoryview, features: FeatureSet, max_batch: int
) -> np.ndarray:
    """Return the model input X: (n, width) from the input tensors; `raw` is the binary section.

    Values are checked and encoded by the feature rule, as /predict's are.
    """
    names = features.names
    matrix = _check_names(inputs, names)
    n = _batch_size(inputs, matrix, len(names), max_batch)
    arrays = _decode(inputs, raw)
    try:
        if matrix:
            with np.errstate(over="ignore"):  # FP64 values too large for FP32 became inf
                return features.check_matrix(arrays[0].astype(np.float64))
        by_name = {
            inp.name: (i, values.reshape(n))
            for i, (inp, values) in enumerate(zip(inputs, arrays, strict=True))
        }
        return features.encode([by_name[name][1] for name in names])
    except FeatureError as exc:
        p = exc.problems[0]
        if matrix:
            where, loc = f" (column {p.column} of {MATRIX!r})", ["inputs", 0, "data"]
        else:
            where, loc = "", ["inputs", by_name[p.feature][0], "data"]
        raise invalid(f"feature {p.feature!r}{where} {p.msg}", loc) from None


def _check_names(inputs: list[RequestInput], names: list[str]) -> bool:
    """Refuse unknown, repeated, missing or mixed inputs; return whether the matrix form is used."""
    allowed = set(names) if MATRIX in names else {MATRIX, *names}
    seen: set[str] = set()
    for i, inp in enumerate(inputs):
        if inp.name not in allowed:  # the name is not echoed: it is the client's text
            raise invalid(
                f"input {i} is not an input of this model; send {MATRIX!r} with shape "
                f"[N, {len(names)}] or one tensor per feature: {', '.join(names)}",
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
        raise invalid(
            f"missing input for feature {', '.join(missing)}; send {MATRIX!r} with shape "
            f"[N, {len(names)}] or one tensor per feature",
            ["inputs"],
        )
    return matrix


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
