"""Export a stored version as one ONNX graph: raw features in, the service's answers out.

The graph holds the whole path /predict takes (service/serving/onnx_inputs.py for the
preprocessing), then the network as Gemm layers with their activations, the output activation
and the answers, named and shaped as the V2 outputs are (service/serving/v2/outputs.py):

* classifiers: `probability` float [N, 1] (binary: the probability of classes[1], /predict's
  `probability`) or [N, classes] (multiclass: /predict's `probabilities`), and `label` [N] (int64,
  bool, double or string, as V2 types labels);
* regression: `prediction` double [N, 1] in the target's own units (computed in float32, sent
  as double as V2 sends it, so a client of one reads the other).

Standard ai.onnx (opset 17) and ai.onnx.ml (opset 3) operators only; the model's metadata
(name, version, task, classes, features, data fingerprint) is in metadata_props. Needs the
`onnx` package (the `onnx` extra); the service runs without it.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np
import onnx
import orjson
from onnx import TensorProto, helper

from ..training.model import TrainedModel
from .onnx_graph import BATCH, IR_VERSION, OPSETS, Graph, NotExportable
from .onnx_inputs import describe, scaled_inputs
from .v2.signature import labels

# The activations of service/nn as ONNX operators (None: nothing to apply).
ACTIVATION_OPS: dict[str, tuple[str, dict] | None] = {
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "relu": ("Relu", {}),
    "identity": None,
    "softmax": ("Softmax", {"axis": 1}),
}
LABEL_TYPES = {
    "INT64": TensorProto.INT64,
    "BOOL": TensorProto.BOOL,
    "FP64": TensorProto.DOUBLE,
    "BYTES": TensorProto.STRING,
}
MEDIA_TYPE = "application/octet-stream"


def export(model: TrainedModel) -> onnx.ModelProto:
    """Return the version as a checked ONNX model; NotExportable says why it cannot be."""
    graph = Graph()
    outputs = ["prediction"] if model.task == "regression" else ["probability", "label"]
    for name in outputs:
        graph.claim(name, "output")
    hidden = scaled_inputs(graph, model)
    out = _network(graph, model, hidden)
    if model.task == "regression":
        _regression(graph, model, out)
    else:
        _classifier(graph, model, out)
    doc = f"{model.name} version {model.version}: {model.task} on {model.meta.target!r}"
    proto = helper.make_model(
        graph.build(model.name, doc),
        opset_imports=[helper.make_opsetid(domain, v) for domain, v in OPSETS.items()],
        ir_version=IR_VERSION,
        producer_name="nn-service",
        producer_version=_version(),
        model_version=model.version,
        doc_string=doc,
    )
    helper.set_model_props(proto, properties(model))
    onnx.checker.check_model(proto, full_check=True)  # full_check: strict shape inference too
    return proto


def to_bytes(model: TrainedModel) -> bytes:
    """Return the exported version as the bytes of a .onnx file."""
    return export(model).SerializeToString()


def properties(model: TrainedModel) -> dict[str, str]:
    """Return the metadata_props: who the model is, what it predicts, what it takes."""
    meta = model.meta
    props = {
        "model": model.name,
        "version": str(model.version),
        "task": model.task,
        "target": meta.target,
        "created_at": meta.created_at,
        "data_sha256": meta.data.sha256,
        "data_rows": str(meta.data.rows),
        "features": orjson.dumps([describe(s) for s in meta.features]).decode(),
        "unknown_category": "scored at the training mean of the feature's columns",
    }
    if model.task != "regression":
        props["classes"] = orjson.dumps(model.classes).decode()
    return props


def _version() -> str:
    try:
        return metadata.version("nn-service")
    except metadata.PackageNotFoundError:
        return "dev"


def _activate(graph: Graph, name: str, value: str) -> str:
    if name not in ACTIVATION_OPS:
        raise NotExportable(f"activation {name!r} has no ONNX operator in this exporter")
    op = ACTIVATION_OPS[name]
    return value if op is None else graph.op(op[0], [value], name, **op[1])


def _network(graph: Graph, model: TrainedModel, x: str) -> str:
    """Add the Dense layers and activations; return the network's output (N, n_outputs)."""
    net = model.net
    for k, layer in enumerate(net.dense):
        w = graph.const(f"dense{k}.W", layer.W.astype(np.float32))
        b = graph.const(f"dense{k}.b", layer.b.astype(np.float32))
        x = graph.op("Gemm", [x, w, b], f"dense{k}")
        x = _activate(graph, net.output if k == len(net.dense) - 1 else net.activation, x)
    return x


def _regression(graph: Graph, model: TrainedModel, out: str) -> None:
    scale = graph.const("target.scale", np.array([model.target_scale], dtype=np.float32))
    mean = graph.const("target.mean", np.array([model.target_mean], dtype=np.float32))
    value = graph.op("Add", [graph.op("Mul", [out, scale], "target"), mean], "target")
    value = graph.op("Cast", [value], "prediction", to=TensorProto.DOUBLE)
    text = f"the prediction in {model.meta.target!r}'s units"
    graph.output("prediction", value, TensorProto.DOUBLE, [BATCH, 1], text)


def _classifier(graph: Graph, model: TrainedModel, out: str) -> None:
    """Add `probability` and `label`, chosen as the network's class_indices chooses."""
    output, width = model.net.output, model.net.n_outputs
    if output == "sigmoid" and width == 1:
        half = graph.const("half", np.array(0.5, dtype=np.float32))
        positive = graph.op("GreaterOrEqual", [out, half], "positive")
        index = graph.op("Cast", [positive], "index", to=TensorProto.INT64)
        index = graph.op("Reshape", [index, graph.const("flat", np.array([-1]))], "index")
        text = f"the probability of {model.classes[1]!r} (/predict's probability)"
    elif output == "softmax":
        index = graph.op("ArgMax", [out], "index", axis=1, keepdims=0)
        text = "the probability of each class, in the order of the metadata's classes"
    else:
        raise NotExportable(f"a {model.task} model with a {output!r} output is not a classifier")
    graph.output("probability", out, TensorProto.FLOAT, [BATCH, width], text)
    table = labels(model.classes)
    label = graph.op("Gather", [graph.const("classes", table.values), index], "label", axis=0)
    text = "the predicted class (/predict's label)"
    graph.output("label", label, LABEL_TYPES[table.datatype], [BATCH], text)
