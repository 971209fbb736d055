"""A small builder of ONNX graphs: nodes, constants and unique internal names.

Internal values are named `nns/<hint>/<n>` so that they never take a feature's name (features
are the graph's inputs, under their own names); `claim` reserves the names of inputs and
outputs and refuses a feature name that is already taken.
"""

from __future__ import annotations

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

from ..errors import ServiceError

ML = "ai.onnx.ml"
# The opsets (and IR version) every ONNX Runtime since 1.12 and Triton's onnxruntime backend
# since 22.07 load: ai.onnx 17 and ai.onnx.ml 3 are what ONNX 1.12 (IR 8) defined.
OPSETS = {"": 17, ML: 3}
IR_VERSION = 8
BATCH = "N"  # the symbolic batch dimension


class NotExportable(ServiceError):
    """This version cannot be written as an ONNX graph (the message says why)."""

    status, code = 409, "not_exportable"


class Graph:
    """Collect nodes and constants; hand out internal names that cannot collide."""

    def __init__(self) -> None:
        self.nodes: list[NodeProto] = []
        self.constants: list[TensorProto] = []
        self.inputs: list = []
        self.outputs: list = []
        self._taken: set[str] = set()
        self._count = 0

    def claim(self, name: str, what: str) -> str:
        """Reserve an input or output name; NotExportable when it is taken or internal."""
        if name in self._taken or name.startswith("nns/"):
            raise NotExportable(
                f"{what} {name!r} cannot be an ONNX name here: it is already the name of an "
                "input or output of the graph (or starts with 'nns/', kept for internal values)"
            )
        self._taken.add(name)
        return name

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"nns/{hint}/{self._count}"

    def const(self, hint: str, array: np.ndarray) -> str:
        """Add a constant tensor; return its name."""
        name = self.fresh(hint)
        self.constants.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, domain: str = "", **attrs) -> str:
        """Add a node with one output; return the output's name."""
        out = self.fresh(hint)
        node = helper.make_node(
            op_type, inputs, [out], name=f"{out}:{op_type}", domain=domain, **attrs
        )
        self.nodes.append(node)
        return out

    def input(self, name: str, elem_type: int, width: int, doc: str) -> str:
        """Declare a graph input of shape [N, width]."""
        value = helper.make_tensor_value_info(name, elem_type, [BATCH, width])
        value.doc_string = doc
        self.inputs.append(value)
        return name

    def output(self, name: str, source: str, elem_type: int, shape: list, doc: str) -> None:
        """Expose `source` as the graph output `name` (through an Identity node)."""
        self.nodes.append(helper.make_node("Identity", [source], [name], name=f"nns/{name}"))
        value = helper.make_tensor_value_info(name, elem_type, shape)
        value.doc_string = doc
        self.outputs.append(value)

    def build(self, name: str, doc: str):
        """Return the GraphProto."""
        return helper.make_graph(
            self.nodes, name, self.inputs, self.outputs, self.constants, doc_string=doc
        )
