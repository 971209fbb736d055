"""The binary tensor data extension: a JSON header, then raw little-endian tensor bytes."""

from __future__ import annotations

from .tensors import invalid

HEADER = "Inference-Header-Content-Length"


def split(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """Return (JSON header, binary section); without the header the whole body is JSON."""
    if header_length is None:
        return body, memoryview(b"")
    text = header_length.strip()
    if not (text.isascii() and text.isdigit()):
        raise invalid(f"{HEADER} must be a whole number of bytes", ["headers", HEADER])
    n = int(text)
    if n > len(body):
        raise invalid(
            f"{HEADER} is {n} bytes but the body has only {len(body)}", ["headers", HEADER]
        )
    return body[:n], memoryview(body)[n:]


def join(header: bytes, chunks: list[bytes]) -> tuple[bytes, dict[str, str]]:
    """Return the response body and its extra headers: the JSON, then each output's bytes."""
    if not chunks:
        return header, {}
    return b"".join([header, *chunks]), {HEADER: str(len(header))}
