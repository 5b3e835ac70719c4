"""Float Add/Sub that may see ±inf keep IEEE infinities (LiteRT's ADD/SUB clamp to ±FLT_MAX)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgelite

X = np.array([[1.0, -np.inf, np.inf, 2.0, -np.inf, np.inf]], np.float32)


def _model(op: str) -> bytes:
    mask = np.array([[-np.inf, 0.0, 0.0, 3.0, -np.inf, -np.inf]], np.float32)
    g = helper.make_graph(
        [helper.make_node(op, ["x", "mask"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])],
        [numpy_helper.from_array(mask, "mask")],
    )
    return edgelite.convert(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))


def _run(interp, x):
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


@pytest.mark.parametrize("op", ["Add", "Sub"])
def test_infinities_survive_add_and_sub(op):
    mask = np.array([[-np.inf, 0.0, 0.0, 3.0, -np.inf, -np.inf]], np.float32)
    with np.errstate(invalid="ignore"):
        want = X + mask if op == "Add" else X - mask
    data = _model(op)
    got = _run(edgelite.Interpreter(model_content=data), X)
    np.testing.assert_array_equal(got, want)  # NaN where inf meets -inf, as IEEE says
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="LiteRT (ai-edge-litert) is the oracle")
    theirs = _run(litert.Interpreter(model_content=data, experimental_op_resolver_type=(
        litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)), X)
    np.testing.assert_array_equal(theirs, want)


def test_finite_operands_keep_a_single_op():
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6])],
        [numpy_helper.from_array(np.ones((1, 6), np.float32), "b")],
    )
    data = edgelite.convert(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    from edgelite.schema import read_model

    m = read_model(data)
    assert [m.opcode_name(op) for op in m.subgraphs[0].operators] == ["ADD"]
