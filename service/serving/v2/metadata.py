"""Server and model metadata in the V2 shapes."""

from __future__ import annotations

from importlib import metadata

import orjson

from ..predictor import Predictor
from .inputs import MATRIX
from .outputs import declared
from .signature import signature

PLATFORM = "numpy-mlp"
EXTENSIONS = ["binary_tensor_data"]


def _version() -> str:
    try:
        return metadata.version("nn-service")
    except metadata.PackageNotFoundError:
        return "dev"  # running from a source checkout that was not pip-installed


def server() -> dict:
    """Describe the server: its name, version and the protocol extensions it speaks."""
    return {"name": "nn-service", "version": _version(), "extensions": EXTENSIONS}


def model(predictor: Predictor, versions: list[int]) -> dict:
    """Describe a model version: its inputs, the outputs of its task and how to read them.

    All-numeric models announce the one `features` [N, F] tensor (per-feature tensors are
    accepted too, as `properties.inputs` says); models with text features announce one tensor
    per feature, FP64, BYTES or BOOL, shape [N].
    """
    sig = signature(predictor)
    names = predictor.feature_set.names
    if sig.matrix:
        inputs = [{"name": MATRIX, "datatype": "FP64", "shape": [-1, len(names)]}]
        forms = f"{MATRIX} [N, {len(names)}], or one tensor per feature ([N] or [N, 1])"
    else:
        inputs = [{"name": f.name, "datatype": f.datatype, "shape": [-1]} for f in sig.inputs]
        forms = "one tensor per feature ([N] or [N, 1])"
    properties = {
        "task": predictor.task,
        "version": str(predictor.version),
        "features": ",".join(names),
        "inputs": forms,
    }
    if sig.nullable:
        # NaN in a float tensor, or an empty string in BYTES, is a missing value for these.
        properties["nullable"] = ",".join(sig.nullable)
    if sig.labels is not None:
        # The classes in output order (the columns of `probability`), as a JSON array.
        properties["classes"] = orjson.dumps(predictor.classes).decode()
        if predictor.task == "binary":
            # `probability` is this class's, spelled as a BYTES label would be.
            properties["positive_class"] = sig.labels.texts()[1]
    return {
        "name": predictor.name,
        "versions": [str(v) for v in versions],
        "platform": PLATFORM,
        "inputs": inputs,
        "outputs": declared(predictor),
        "properties": properties,
    }
