"""One V2 inference: parse the envelope, build the feature matrix, predict, encode the outputs."""

from __future__ import annotations

from pydantic import ValidationError

from ...errors import BadRequest, validation_details
from ..jsonio import dumps
from ..predictor import NonFiniteOutput, Predictor, warnings
from . import binary, outputs
from .inputs import feature_matrix
from .schemas import InferRequest
from .signature import signature


def parse(header: bytes, has_binary_header: bool) -> InferRequest:
    """Validate the JSON envelope; every failure is a 400 that names the first bad field."""
    try:
        return InferRequest.model_validate_json(header)
    except ValidationError as exc:
        details = validation_details(exc)
    if details[0]["type"] == "json_invalid":
        # Raw tensor bytes after the JSON, sent without the header, parse as trailing characters.
        trailing = "trailing characters" in details[0]["msg"] and not has_binary_header
        hint = f" (binary tensor data needs {binary.HEADER})" if trailing else ""
        raise BadRequest(f"request body is not valid JSON{hint}", details=details)
    first = details[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    message = f"invalid inference request: {where}: {first['msg']}{more}"
    raise BadRequest(message, code="validation_error", details=details)


def infer(
    predictor: Predictor,
    body: bytes,
    header_length: str | None,
    max_batch: int,
    strict_categories: bool = False,
) -> tuple[bytes, dict[str, str], int]:
    """Answer one infer body; return (response body, extra headers, rows predicted).

    `strict_categories`: refuse values never seen in training unless the request says.
    """
    header, raw = binary.split(body, header_length)
    request = parse(header, header_length is not None)
    chosen = outputs.select(request, predictor)
    asked = request.parameters.strict if request.parameters else None
    strict = strict_categories if asked is None else asked
    X, unknowns = feature_matrix(
        request.inputs, raw, predictor.feature_set, max_batch, signature(predictor), strict
    )
    X = predictor.at_average(X, unknowns)
    try:
        out = predictor.outputs(X)
    except NonFiniteOutput as exc:  # V2 answers every bad request with 400
        raise BadRequest(exc.message, code="validation_error", details=exc.details) from None
    tensors = outputs.compute(predictor, out)
    head = {"model_name": predictor.name, "model_version": str(predictor.version)}
    if request.id is not None:
        head["id"] = request.id
    if unknowns:  # V2 has no per-row answer object: the warnings name their rows
        found = warnings(unknowns)
        head["parameters"] = {
            "warnings": [f"row {r}: {w}" for r in sorted(found) for w in found[r]]
        }
    reply, chunks = outputs.encode(head, tensors, chosen)
    response, headers = binary.join(dumps(reply), chunks)
    return response, headers, len(X)
