"""Open Inference Protocol V2 envelopes: the request validated with pydantic, and the replies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP32", "FP64", "BYTES",
]  # fmt: skip
Dim = Annotated[StrictInt, Field(ge=0)]


class Closed(BaseModel):
    """A request object: members the protocol's schema does not name are ignored, as its
    schema allows them (a client of a newer protocol version keeps working)."""

    model_config = ConfigDict(extra="ignore")


class Parameters(BaseModel):
    """Key/value parameters; keys other than the named ones are accepted and ignored."""

    model_config = ConfigDict(extra="allow")


class InputParameters(Parameters):
    binary_data_size: StrictInt | None = Field(
        None, ge=0, description="Bytes of this tensor in the binary section after the JSON."
    )


class OutputParameters(Parameters):
    binary_data: StrictBool | None = Field(
        None, description="Return this output as raw little-endian bytes after the JSON."
    )


class RequestParameters(Parameters):
    binary_data_output: StrictBool | None = Field(
        None, description="Default of `binary_data` for every output."
    )
    strict: StrictBool | None = Field(
        None,
        description="Refuse a text value never seen in training (400) instead of scoring it as "
        "unknown with a warning in the response's parameters (default: NNS_STRICT_CATEGORIES).",
    )


class RequestInput(Closed):
    """One input tensor: one per feature named by it, [N] or [N, 1]; or `features` [N, F].

    Text features take BYTES: JSON strings, or in the binary section each element as a 4-byte
    little-endian length and its UTF-8 bytes. `features` is only for all-numeric models.
    """

    name: str = Field(max_length=256)
    shape: list[Dim] = Field(max_length=8)
    datatype: Datatype
    parameters: InputParameters | None = None
    data: list[Any] | None = Field(
        None, description="Row-major values, flat or nested; absent when sent as binary data."
    )


class RequestOutput(Closed):
    name: str = Field(max_length=256, description="probability, label or prediction.")
    parameters: OutputParameters | None = None


class InferRequest(Closed):
    """POST /v2/models/{name}[/versions/{version}]/infer."""

    id: str | None = Field(None, max_length=256, description="Echoed in the response.")
    parameters: RequestParameters | None = None
    inputs: list[RequestInput] = Field(min_length=1, max_length=1024)
    outputs: list[RequestOutput] | None = Field(
        None, description="Outputs to return; all of them when absent or empty."
    )


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = Field(
        None, description="`binary_data_size` when the data follows the JSON as raw bytes."
    )
    data: list[float | int | bool | str] | None = Field(
        None, description="Flat, row-major; BYTES elements are strings."
    )


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = Field(None, description="The request's id, when it had one.")
    parameters: dict[str, Any] | None = Field(
        None, description="`warnings`: the values never seen in training, by row."
    )
    outputs: list[ResponseOutput]


class MetadataTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 marks the batch dimension.")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]
    properties: dict[str, str] = Field(
        description="task, the served version, feature order, which inputs are accepted, the "
        "nullable features, the classes and (binary) the class `probability` is for."
    )


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class ServerLive(BaseModel):
    live: bool


class ServerReady(BaseModel):
    live: bool
    ready: bool


class ModelReady(BaseModel):
    name: str
    ready: bool
