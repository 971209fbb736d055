"""nns-export: the file and the Triton model repository it writes, and what it says when it can't.

No Triton server runs here. config.pbtxt is parsed with protobuf's text format against Triton's
own ModelConfig message (model_config_pb2 from the tritonclient wheel), then held to the checks
Triton makes when it loads an ONNX model, ported from its sources: the core's
ValidateModelConfig and ValidateIOShape (triton-inference-server/core, src/model_config_utils.cc
at 73aad7c) and the onnxruntime backend's ValidateInputs, ValidateOutputs and
CompareDimsSupported (triton-inference-server/onnxruntime_backend, src/onnxruntime.cc and
src/onnxruntime_utils.cc at 00fd3e8), against the input and output metadata of an ONNX Runtime
session of the written file. The graph is then run with inputs shaped as Triton sends them.
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import tritonclient
from google.protobuf import text_format

from model_store import ModelStore
from service.data.csvfile import read_csv_text
from service.data.dataset import from_rows
from service.serving.export import export_main
from service.training.pipeline import run, train_model
from service.training.request import TrainRequest
from service.training.spec import Hyperparameters, TrainSpec
from tests.support.onnx_checks import session
from tests.support.tables import FLAG_ROWS, shop_csv

ORT_TYPES = {  # ModelConfigDataTypeToOnnxDataType, as ONNX Runtime's Python API names them
    "TYPE_FP32": "tensor(float)",
    "TYPE_FP64": "tensor(double)",
    "TYPE_INT64": "tensor(int64)",
    "TYPE_BOOL": "tensor(bool)",
    "TYPE_STRING": "tensor(string)",
}


def model_config_pb2():
    """Import Triton's ModelConfig message from the tritonclient wheel without its gRPC part
    (tritonclient.grpc's __init__ needs grpcio, which the dev extra does not install)."""
    path = Path(tritonclient.__file__).parent / "grpc" / "model_config_pb2.py"
    spec = importlib.util.spec_from_file_location("triton_model_config_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODELS = ["diabetes", "kind", "amount", "flags"]  # int, text and boolean labels; regression


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ModelStore:
    store = ModelStore(tmp_path_factory.mktemp("cli") / "models")
    run(TrainRequest(model="diabetes", dataset="diabetes", promote="always"), store)
    spec = {"hyperparameters": Hyperparameters(hidden=[6], epochs=30), "promote": "always"}
    text = shop_csv(120, seed=3)
    for target, other in (("kind", ("ok", "amount")), ("amount", ("ok", "kind"))):
        data = read_csv_text(text, target, exclude=other)
        train_model(TrainSpec(model=target, **spec), data, store)
    train_model(TrainSpec(model="flags", **spec), from_rows(FLAG_ROWS, "renewed"), store)
    narrow = Hyperparameters(hidden=[3], epochs=5)
    v2 = TrainSpec(model="kind", hyperparameters=narrow, promote="never")
    train_model(v2, read_csv_text(text, "kind", exclude=("ok", "amount")), store)
    return store


def export(store: ModelStore, *args: str) -> int:
    return export_main(["--store", str(store.root), *args])


def triton_checks(config, ort_session) -> None:
    """Triton's load-time checks of an ONNX model's config, as ported (see the docstring)."""
    assert config.platform == "onnxruntime_onnx" and config.max_batch_size >= 0
    assert config.HasField("version_policy")
    for size in config.dynamic_batching.preferred_batch_size:
        assert 0 < size <= config.max_batch_size
    graph_inputs = {i.name: i for i in ort_session.get_inputs()}
    graph_outputs = {o.name: o for o in ort_session.get_outputs()}
    assert len(config.input) == len(graph_inputs)  # "configuration expects N inputs"
    assert {o.name for o in config.output} <= set(graph_outputs)
    for ios, graph, exact in (
        (config.input, graph_inputs, False),
        (config.output, graph_outputs, True),
    ):
        for io in ios:
            _io_shape(io, config.max_batch_size)
            found = graph[io.name]
            data_type = config.DESCRIPTOR.file.enum_types_by_name["DataType"]
            assert ORT_TYPES[data_type.values_by_number[io.data_type].name] == found.type
            dims = list(io.reshape.shape) if io.HasField("reshape") else list(io.dims)
            model_shape = [d if isinstance(d, int) else -1 for d in found.shape]
            _compare_dims(model_shape, dims, config.max_batch_size, exact)


def _io_shape(io, max_batch_size: int) -> None:
    """ValidateIOShape: a name, a data type, non-empty dims, and a reshape of the same size."""
    assert io.name and io.data_type != 0 and len(io.dims) > 0
    assert all(d >= 1 or d == -1 for d in io.dims)
    if io.HasField("reshape"):
        assert max_batch_size > 0 or len(io.reshape.shape) > 0
        assert all(d >= 1 or d == -1 for d in io.reshape.shape)
        dims, reshape = math.prod(io.dims), math.prod(io.reshape.shape)
        assert dims == reshape or (len(io.reshape.shape) == 0 and dims == 1)


def _compare_dims(model_shape: list, dims: list, max_batch_size: int, exact: bool) -> None:
    """CompareDimsSupported: with batching, the model's first dimension is -1 and the rest are
    the config's dims (outputs exactly; inputs where the model's dimension is fixed)."""
    if max_batch_size > 0:
        assert model_shape and model_shape[0] == -1
        full = [-1, *dims]
    else:
        full = dims
    assert len(model_shape) == len(full)
    for m, d in zip(model_shape, full, strict=True):
        if exact or m != -1:
            assert m == d


@pytest.mark.parametrize("name", MODELS)
def test_the_triton_repository_is_what_triton_checks_on_load(store, tmp_path, name, capsys):
    out, repo = tmp_path / "model.onnx", tmp_path / "repo"
    assert export(store, "--model", name, "--out", str(out), "--triton", str(repo)) == 0
    version = store.current_version(name)
    model_file = repo / name / str(version) / "model.onnx"
    assert model_file.read_bytes() == out.read_bytes()
    assert sorted(p.name for p in (repo / name).iterdir()) == [str(version), "config.pbtxt"]
    pb2 = model_config_pb2()
    text = (repo / name / "config.pbtxt").read_text()
    config = text_format.Parse(text, pb2.ModelConfig())  # unknown fields or bad syntax raise
    assert config.name == name and list(config.version_policy.specific.versions) == [version]
    sess = session(model_file.read_bytes())
    triton_checks(config, sess)
    # A batch of 3 as Triton hands it to the model: [3] + dims, reshaped where declared.
    feeds = {}
    for io in config.input:
        dtype = object if io.data_type == pb2.TYPE_STRING else np.float32
        fill = "" if dtype is object else 0.0
        feeds[io.name] = np.full([3, *io.dims], fill, dtype=dtype)
    outputs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds), strict=True))
    for io in config.output:
        shape = list(io.reshape.shape) if io.HasField("reshape") else list(io.dims)
        assert list(outputs[io.name].shape) == [3, *shape]
    assert f"{name} version {version}" in capsys.readouterr().out


def test_a_pinned_version_is_exported_and_named(store, tmp_path):
    out = tmp_path / "v2.onnx"
    assert export(store, "--model", "kind", "--version", "2", "--out", str(out)) == 0
    sess = session(out.read_bytes())
    assert sess.get_modelmeta().custom_metadata_map["version"] == "2"
    assert store.current_version("kind") == 1  # the pinned version, not the current one
    weights = {
        t.name: list(t.dims) for t in onnx.load_from_string(out.read_bytes()).graph.initializer
    }
    first = next(dims for name, dims in weights.items() if "dense0.W" in name)
    assert first[1] == 3  # version 2's hidden layer, not version 1's


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--model", "nope", "--out", "x.onnx"], 1, "model 'nope' not found"),
        (["--model", "kind", "--version", "9", "--out", "x.onnx"], 1, "has no version 9"),
        (["--model", "kind"], 2, "give --out FILE, --triton DIR or both"),
        (["--model", "kind", "--format", "pmml", "--out", "x.onnx"], 2, "invalid choice"),
    ],
)
def test_mistakes_are_one_clear_line(store, tmp_path, capsys, args, status, message):
    try:
        code = export(store, *args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.onnx").exists()


def test_without_the_onnx_package_it_says_how_to_install_it(store, tmp_path):
    script = (
        "import sys; sys.modules['onnx'] = None\n"  # import onnx fails, as when not installed
        "from service.serving.export import export_main\n"
        "sys.exit(export_main(sys.argv[1:]))"
    )
    argv = ["--store", str(store.root), "--model", "kind", "--out", str(tmp_path / "m.onnx")]
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "pip install 'nn-service[onnx]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "m.onnx").exists()
