"""The output tensors a model offers over V2, which a request selects, and how they are sent."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..predictor import Predictor
from .schemas import InferRequest
from .signature import signature
from .tensors import invalid

UNSUPPORTED = ("classification", "shared_memory_region", "shared_memory_byte_size")


def declared(predictor: Predictor) -> list[dict]:
    """Describe the output tensors of a model; -1 is the batch dimension."""
    if predictor.task == "regression":
        # FP64: regression values are unbounded and FP64 equals /predict's number exactly.
        return [{"name": "prediction", "datatype": "FP64", "shape": [-1, 1]}]
    width = 1 if predictor.task == "binary" else len(predictor.classes)
    labels = signature(predictor).labels
    return [
        {"name": "probability", "datatype": "FP32", "shape": [-1, width]},
        {"name": "label", "datatype": labels.datatype if labels else "INT64", "shape": [-1]},
    ]


def _shown(name: str) -> str:
    """Quote a client's output name in an error, cut short: JSON-escaped, never markup."""
    return repr(name if len(name) <= 40 else name[:37] + "...")


def select(request: InferRequest, predictor: Predictor) -> list[tuple[str, bool]]:
    """Return (output name, send as binary) for each output the request asks for, in its order."""
    names = [t["name"] for t in declared(predictor)]
    default = bool(request.parameters and request.parameters.binary_data_output)
    if not request.outputs:
        return [(name, default) for name in names]
    chosen: list[tuple[str, bool]] = []
    for i, out in enumerate(request.outputs):
        loc = ["outputs", i]
        if out.name not in names:
            raise invalid(
                f"output {_shown(out.name)} (outputs[{i}]) is not an output of this model; its "
                f"outputs are {', '.join(names)}",
                [*loc, "name"],
            )
        if any(name == out.name for name, _ in chosen):
            raise invalid(f"output {out.name!r} is requested more than once", [*loc, "name"])
        params = out.parameters
        if params and any(key in (params.model_extra or {}) for key in UNSUPPORTED):
            raise invalid(
                f"output {out.name!r}: classification and shared memory are not supported",
                [*loc, "parameters"],
            )
        binary = params.binary_data if params and params.binary_data is not None else default
        chosen.append((out.name, binary))
    return chosen


@dataclass(frozen=True)
class Tensor:
    """One output tensor: its datatype and values; BYTES values are str, `framed` their bytes."""

    datatype: str
    values: np.ndarray
    framed: list[bytes] | None = None  # BYTES: each element's 4-byte LE length and UTF-8

    def data(self):
        """Return the JSON `data`: flat, row-major."""
        if self.framed is not None:
            return self.values.tolist()
        return self.values.ravel()  # orjson writes NumPy arrays natively

    def raw(self) -> bytes:
        """Return the tensor as the binary extension sends it."""
        if self.framed is not None:
            return b"".join(self.framed)
        return self.values.tobytes()


def compute(predictor: Predictor, out: np.ndarray) -> dict[str, Tensor]:
    """Return every output tensor from the network outputs. out: (n, n_outputs)."""
    if predictor.task == "regression":
        return {"prediction": Tensor("FP64", out[:, :1].astype("<f8"))}
    idx, _ = predictor.labels(out)  # the same rule as Predictor.predictions
    labels = signature(predictor).labels
    assert labels is not None  # a classifier
    framed = None
    if labels.framed is not None:
        framed = [labels.framed[i] for i in idx.tolist()]
    width = 1 if predictor.task == "binary" else out.shape[1]
    return {
        "probability": Tensor("FP32", out[:, :width].astype("<f4")),
        "label": Tensor(labels.datatype, labels.values[idx], framed),
    }


def encode(head: dict, tensors: dict[str, Tensor], chosen: list[tuple[str, bool]]):
    """Return (JSON header dict, raw chunks): binary outputs go after the JSON as raw bytes."""
    entries, chunks = [], []
    for name, binary in chosen:
        tensor = tensors[name]
        entry = {"name": name, "datatype": tensor.datatype, "shape": list(tensor.values.shape)}
        if binary:
            chunk = tensor.raw()
            entry["parameters"] = {"binary_data_size": len(chunk)}
            chunks.append(chunk)
        else:
            entry["data"] = tensor.data()
        entries.append(entry)
    return {**head, "outputs": entries}, chunks
