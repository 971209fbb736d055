"""Decode one V2 tensor, JSON or raw bytes, straight into a NumPy array of its declared shape.

BYTES tensors become object arrays of str: JSON data is a list of strings; in the binary
section each element is a 4-byte little-endian length, then that many bytes. Either way the
text must be UTF-8.
"""

from __future__ import annotations

import math
import struct

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
    if datatype == "BYTES":
        return strings_from_json(data, shape, label, loc)
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
    if values.dtype.kind == "O" and "f" in kinds:
        values = _whole_numbers(values)  # integers beyond 64 bits, as /predict takes them
    if values.size and values.dtype.kind not in kinds:
        raise invalid(f"{label}: {datatype} data must hold {KIND_TEXT[kinds]}", loc)
    dtype = DTYPES[datatype]
    if kinds == "biu" and values.size:
        info = np.iinfo(dtype)
        if values.min() < info.min or values.max() > info.max:
            raise invalid(f"{label}: a value is out of range for {datatype}", loc)
    with np.errstate(all="ignore"):  # FP64 values too large for FP32 become inf, refused later
        return values.astype(dtype, copy=False).reshape(shape)


def _whole_numbers(values: np.ndarray) -> np.ndarray:
    """Return an object array of Python numbers as float64 (beyond its range: infinite, which
    the feature rule refuses as /predict does); anything else unchanged."""
    flat = values.reshape(-1).tolist()
    if not all(type(v) in (int, float) for v in flat):
        return values
    return np.array([_float(v) for v in flat], dtype=np.float64).reshape(values.shape)


def _float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


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
    if datatype == "BYTES":
        return strings_from_bytes(raw, offset, size, shape, label, loc)
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


def _strings(texts: list[str], shape: list[int]) -> np.ndarray:
    out = np.empty(len(texts), dtype=object)
    out[:] = texts
    return out.reshape(shape)


def _flatten(data: list, label: str, loc: list) -> tuple[list, list[int]]:
    """Return (leaves, shape) of nested lists; refuse ragged nesting."""
    shape = [len(data)]
    level = data
    while level and type(level[0]) is list:
        width = len(level[0])
        if any(type(v) is not list or len(v) != width for v in level):
            raise invalid(f"{label}: data is ragged or nested too deeply", loc)
        shape.append(width)
        level = [v for sub in level for v in sub]
        if len(shape) > 8:
            raise invalid(f"{label}: data is ragged or nested too deeply", loc)
    return level, shape


def strings_from_json(data: list, shape: list[int], label: str, loc: list) -> np.ndarray:
    """Return BYTES JSON data (strings, flat or nested as declared) as str objects of `shape`."""
    texts, nested = data, None
    if any(type(v) is list for v in data):
        texts, nested = _flatten(data, label, loc)
    expected = math.prod(shape)
    if len(texts) != expected:
        raise invalid(
            f"{label}: data has {len(texts)} values but shape {shape_text(shape)} needs {expected}",
            loc,
        )
    if nested is not None and nested != shape:
        raise invalid(
            f"{label}: nested data has shape {shape_text(nested)} but the input declares "
            f"{shape_text(shape)}; send it flat or nested as declared",
            loc,
        )
    if not all(type(v) is str for v in texts):
        raise invalid(f"{label}: BYTES data must hold strings", loc)
    return _strings(texts, shape)


_LENGTH = struct.Struct("<I")


def strings_from_bytes(
    raw: bytes | memoryview, offset: int, size: int, shape: list[int], label: str, loc: list
) -> np.ndarray:
    """Return `size` bytes at `offset`, each element a 4-byte LE length and UTF-8, as str."""
    count = math.prod(shape)
    if count * 4 > size:
        raise invalid(
            f"{label}: binary_data_size is {size} bytes, too few for {count} BYTES elements "
            "(each is a 4-byte little-endian length, then its bytes)",
            loc,
        )
    data = bytes(raw[offset : offset + size])
    length = _LENGTH.unpack_from
    parts: list[bytes] = []
    at = 0
    for k in range(count):
        if at + 4 > size:
            raise invalid(
                f"{label}: BYTES element {k} is cut off: its 4-byte length is past "
                "binary_data_size",
                loc,
            )
        end = at + 4 + length(data, at)[0]
        if end > size:
            raise invalid(
                f"{label}: BYTES element {k} says {end - at - 4} bytes but only "
                f"{size - at - 4} remain in binary_data_size",
                loc,
            )
        parts.append(data[at + 4 : end])
        at = end
    if at != size:
        raise invalid(
            f"{label}: binary_data_size is {size} bytes but its {count} BYTES elements take {at}",
            loc,
        )
    texts: dict[bytes, str] = {}  # rows repeat a few categories: decode each once
    try:
        for part in set(parts):
            texts[part] = part.decode()
    except UnicodeDecodeError:
        k = next(i for i, p in enumerate(parts) if p not in texts and _not_utf8(p))
        raise invalid(f"{label}: BYTES element {k} is not valid UTF-8", loc) from None
    return _strings(list(map(texts.__getitem__, parts)), shape)


def _not_utf8(part: bytes) -> bool:
    try:
        part.decode()
    except UnicodeDecodeError:
        return True
    return False
