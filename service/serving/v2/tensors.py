"""Decode one V2 tensor, JSON or raw bytes, straight into a NumPy array of its declared shape."""

from __future__ import annotations

import math

import numpy as np

from ...errors import BadRequest, problem

# Little-endian, as the binary tensor data extension specifies. BOOL travels as one byte.
DTYPES = {
    "BOOL": np.dtype("u1"),
    "UINT8": np.dtype("u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
# The NumPy kinds that JSON values of each datatype may parse into (b bool, i/u int, f float).
# true and false count as 1 and 0 in number tensors, as NumPy reads a list that mixes them.
JSON_KINDS = {"BOOL": "b", "FP32": "biuf", "FP64": "biuf"}
KIND_TEXT = {"b": "true or false", "biu": "integers in its range", "biuf": "numbers"}


def invalid(message: str, loc: list) -> BadRequest:
    """Return a 400 for a request the protocol cannot accept; `loc` points at the field."""
    details = [problem(loc, message, "invalid_request")]
    return BadRequest(message, code="validation_error", details=details)


def shape_text(shape: list[int] | tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def from_json(data: list, datatype: str, shape: list[int], label: str, loc: list) -> np.ndarray:
    """Return the JSON `data` (flat or nested, row-major) as an array of `shape` and `datatype`."""
    try:
        values = np.asarray(data)
    except ValueError:
        raise invalid(f"{label}: data is ragged or nested too deeply", loc) from None
    expected = math.prod(shape)
    if values.size != expected:
        raise invalid(
            f"{label}: data has {values.size} values but shape {shape_text(shape)} needs "
            f"{expected}",
            loc,
        )
    if values.ndim > 1 and list(values.shape) != shape:
        raise invalid(
            f"{label}: nested data has shape {shape_text(values.shape)} but the input declares "
            f"{shape_text(shape)}; send it flat or nested as declared",
            loc,
        )
    kinds = JSON_KINDS.get(datatype, "biu")
    if values.size and values.dtype.kind not in kinds:
        raise invalid(f"{label}: {datatype} data must hold {KIND_TEXT[kinds]}", loc)
    dtype = DTYPES[datatype]
    if kinds == "biu" and values.size:
        info = np.iinfo(dtype)
        if values.min() < info.min or values.max() > info.max:
            raise invalid(f"{label}: a value is out of range for {datatype}", loc)
    with np.errstate(all="ignore"):  # FP64 values too large for FP32 become inf, refused later
        return values.astype(dtype, copy=False).reshape(shape)


def from_bytes(
    raw: bytes | memoryview,
    offset: int,
    size: int,
    datatype: str,
    shape: list[int],
    label: str,
    loc: list,
) -> np.ndarray:
    """Return `size` raw bytes at `offset` as an array of `shape`, without copying."""
    dtype = DTYPES[datatype]
    count = math.prod(shape)
    if size != count * dtype.itemsize:
        raise invalid(
            f"{label}: binary_data_size is {size} bytes but shape {shape_text(shape)} of "
            f"{datatype} needs {count * dtype.itemsize}",
            loc,
        )
    values = np.frombuffer(raw, dtype=dtype, count=count, offset=offset).reshape(shape)
    if datatype == "BOOL" and count and values.max() > 1:
        raise invalid(f"{label}: BOOL bytes must be 0 or 1", loc)
    return values
