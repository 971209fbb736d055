"""CSV bodies on the predict routes: the file streamed in, scored, and sent once it is whole.

The body is read from the WSGI input as it arrives (never held whole: NNS_MAX_SCORE_BYTES,
not NNS_MAX_BODY_BYTES, bounds it) and scored by service.serving.filescore into a temporary
file, in memory while small and on disk past SPOOL_BYTES. Only a file scored without a problem
is sent, with its length; a bad row is a 422 that names its line and column.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from flask import Response, request
from werkzeug.wsgi import FileWrapper

from ..data.csvfile import BY_NAME, named
from ..errors import invalid, problem
from ..serving.filescore import score_file
from ..serving.predictor import Predictor
from .errors import ApiError
from .http import settings
from .metrics import PREDICTIONS

SPOOL_BYTES = 4 << 20  # answers up to this size stay in memory
SEND_BYTES = 1 << 16
CSV = "text/csv"
DIALECT = BY_NAME
CSV_PARAMS = tuple(
    {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": sorted({*names, *names.values()})},
        "description": f"text/csv only: the CSV's {what} (by character or name); none: "
        "detected as training detects it.",
    }
    for (name, names), what in zip(DIALECT.items(), ("delimiter", "decimal mark"), strict=True)
)


CSV_FILE = {
    "schema": {
        "type": "string",
        "description": "CSV with a header row naming the model's features (other columns are "
        "echoed); the answer adds label and probability_<class>, or prediction.",
    }
}


def wants_csv() -> bool:
    """Tell whether the client asked for CSV (Accept: text/csv) rather than JSON."""
    return request.accept_mimetypes.best_match(["application/json", CSV]) == CSV


def _dialect(name: str) -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    names = DIALECT[name]
    if named(name, value) in names.values():
        return named(name, value)
    choices = ", ".join(sorted(names))
    raise invalid([problem(["query", name], f"{name} must be one of {choices} (or the character)")])


def body_reader(environ: dict, limit: int) -> Callable[[int], bytes]:
    """Return read(n) over the request body: 413 past `limit` bytes, 400 if it cannot be read."""
    stream = environ["wsgi.input"]
    too_large = ApiError(413, f"the CSV body is larger than {limit} bytes (NNS_MAX_SCORE_BYTES)")
    length = environ.get("CONTENT_LENGTH")
    if length:
        if not length.isdigit():
            raise ApiError(400, "Content-Length is not a number")
        if int(length) > limit:
            raise too_large
        left = [int(length)]
    elif (
        environ.get("wsgi.input_terminated")
        or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    ):
        left = None  # chunked: the server ends the stream
    else:
        return lambda n: b""  # neither a length nor chunks: no body
    seen = [0]

    def read(n: int) -> bytes:
        want = n if left is None else min(n, left[0])
        if want <= 0:
            return b""
        try:
            data = stream.read(want)
        except Exception:  # a broken stream is the client's malformed request
            raise ApiError(400, "the request body could not be read (malformed chunks?)") from None
        seen[0] += len(data)
        if left is not None:
            left[0] -= len(data)
        elif seen[0] > limit:
            raise too_large
        return data

    return read


def dialect() -> tuple[str | None, str | None]:
    """Return the delimiter and decimal mark the query names (None: detected); 422 if wrong."""
    return _dialect("sep"), _dialect("decimal")


def score_csv(predictor: Predictor, strict: bool) -> Response:
    """Score a text/csv body; answer CSV when the client accepts it, else the batch JSON.

    `strict`: a category never seen in training is a 422, not a warning."""
    sep, decimal = dialect()
    read = body_reader(request.environ, settings().max_score_bytes)
    as_csv = wants_csv()
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - the response closes it
    try:
        rows = score_file(
            predictor, read, out, as_csv=as_csv, sep=sep, decimal=decimal, strict=strict
        )
    except BaseException:
        out.close()
        raise
    PREDICTIONS.labels(predictor.name, str(predictor.version)).inc(rows)
    size = out.tell()
    out.seek(0)
    headers = {"Content-Length": str(size), "X-Rows": str(rows)}
    if as_csv:  # a model name is safe in a header: it matched the name pattern
        name = f"{predictor.name}-v{predictor.version}-scored.csv"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    mimetype = f"{CSV}; charset=utf-8" if as_csv else "application/json"
    if size <= SPOOL_BYTES:  # still in memory: sent as it is
        with out:
            return Response(out.read(), headers=headers, content_type=mimetype)
    # On disk: sent in blocks; the server closes (and so deletes) the file after the last one.
    body = FileWrapper(out, SEND_BYTES)
    return Response(body, headers=headers, content_type=mimetype, direct_passthrough=True)
