"""Server and model metadata in the V2 shapes."""

from __future__ import annotations

from importlib import metadata

from ..predictor import Predictor
from .inputs import MATRIX
from .outputs import declared

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
    """Describe a model version: its one `features` input and the outputs of its task."""
    return {
        "name": predictor.name,
        "versions": [str(v) for v in versions],
        "platform": PLATFORM,
        "inputs": [
            {"name": MATRIX, "datatype": "FP64", "shape": [-1, len(predictor.features.names)]}
        ],
        "outputs": declared(predictor),
        "properties": {
            "task": predictor.task,
            "version": str(predictor.version),
            # Per-feature inputs, named like these and shaped [N] or [N, 1], are accepted too.
            "features": ",".join(predictor.features.names),
        },
    }
