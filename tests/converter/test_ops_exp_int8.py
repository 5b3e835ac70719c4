"""ONNX Exp converted with int8 quantization: the model keeps EXP in int8 (version 2),
and edgelite's interpreter gives LiteRT's outputs bit for bit (the end-to-end check of
docs/architecture.md's worked example)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
litert = pytest.importorskip("ai_edge_litert.interpreter")

from onnx import TensorProto, helper  # noqa: E402

import edgelite  # noqa: E402
from edgelite.schema import read_model  # noqa: E402
from edgelite.schema.model import TensorType  # noqa: E402


def _exp_model() -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8])
    half = helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])
    g = helper.make_graph([helper.make_node("Mul", ["x", "half"], ["h"]), helper.make_node("Exp", ["h"], ["y"])],
                          "exp", [x], [y], [half])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_exp_converts_to_int8_and_matches_litert():
    rng = np.random.default_rng(0)
    calib = rng.normal(0, 1, (16, 1, 4, 8)).astype(np.float32)
    q = edgelite.convert(_exp_model(), quantize="int8", calibration=calib)
    m = read_model(q)
    sg = m.subgraphs[0]
    exp = [op for op in sg.operators if m.opcode_name(op) == "EXP"]
    assert len(exp) == 1
    assert sg.tensors[exp[0].inputs[0]].type == TensorType.INT8
    assert m.operator_codes[exp[0].opcode_index].version == 2

    x = rng.normal(0, 1, (1, 4, 8)).astype(np.float32)
    ours = edgelite.Interpreter(model_content=q)
    ours.allocate_tensors()
    ours.set_tensor(ours.get_input_details()[0]["index"], x)
    ours.invoke()
    theirs = litert.Interpreter(model_content=q,
                                experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    theirs.allocate_tensors()
    theirs.set_tensor(theirs.get_input_details()[0]["index"], x)
    theirs.invoke()
    got = ours.get_tensor(ours.get_output_details()[0]["index"])
    want = theirs.get_tensor(theirs.get_output_details()[0]["index"])
    np.testing.assert_array_equal(got, want)
    assert np.abs(got - np.exp(x / 2)).max() < 0.2
