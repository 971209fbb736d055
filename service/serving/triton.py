"""A Triton Inference Server model repository for an exported graph: the file and its config.

    DIR/NAME/config.pbtxt     platform onnxruntime_onnx, inputs and outputs as in the graph
    DIR/NAME/V/model.onnx     V is the store's version; the config serves exactly that one

The config is written from the graph's own inputs and outputs, so names, datatypes and dims
agree with it by construction. Batching is on (`max_batch_size`, the dynamic batcher): every
tensor's first dimension is the graph's symbolic batch dimension, left out of `dims`; the
[N]-shaped `label` is declared as dims [1] reshaped to [] as Triton's documentation says.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto

TRITON_TYPES = {
    TensorProto.FLOAT: "TYPE_FP32",
    TensorProto.DOUBLE: "TYPE_FP64",
    TensorProto.INT64: "TYPE_INT64",
    TensorProto.BOOL: "TYPE_BOOL",
    TensorProto.STRING: "TYPE_STRING",
}
PLATFORM = "onnxruntime_onnx"


def _quote(text: str) -> str:
    """Return a protobuf text-format string literal (UTF-8 kept as is)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _tensor(value: onnx.ValueInfoProto) -> str:
    """Return one input or output entry: name, data_type, dims without the batch dimension."""
    tensor = value.type.tensor_type
    dims = [d.dim_value for d in tensor.shape.dim[1:]]
    fields = [f"name: {_quote(value.name)}", f"data_type: {TRITON_TYPES[tensor.elem_type]}"]
    if dims:
        fields.append(f"dims: [ {', '.join(map(str, dims))} ]")
    else:  # shape [N]: one element per batch row
        fields += ["dims: [ 1 ]", "reshape: { shape: [ ] }"]
    return "  {\n    " + "\n    ".join(fields) + "\n  }"


def config_pbtxt(model: onnx.ModelProto, name: str, version: int, max_batch_size: int) -> str:
    """Return the config.pbtxt of an exported graph served as `name`, version `version`."""
    graph = model.graph
    inputs = ",\n".join(_tensor(v) for v in graph.input)
    outputs = ",\n".join(_tensor(v) for v in graph.output)
    return (
        f"name: {_quote(name)}\n"
        f'platform: "{PLATFORM}"\n'
        f"max_batch_size: {max_batch_size}\n"
        f"version_policy: {{ specific: {{ versions: [ {version} ] }} }}\n"
        f"input [\n{inputs}\n]\n"
        f"output [\n{outputs}\n]\n"
        "dynamic_batching { }\n"
    )


def repository_paths(root: Path, name: str, version: int) -> tuple[Path, Path]:
    """Return where the model file and the config go: (root/name/version/model.onnx, config)."""
    folder = Path(root) / name
    return folder / str(version) / "model.onnx", folder / "config.pbtxt"
