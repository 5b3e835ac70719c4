"""Constant folding around ONNX control flow (If/Loop) whose bodies read outer values.

ONNX subgraphs read values of the enclosing graph by name without listing them as node
inputs: silero-vad's ``If`` branches read the graph input ``state`` while the condition
is a constant. Folding must leave such nodes alone (and keep what their bodies read
alive), fold them when everything they read is constant, and word its errors itself.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
helper = onnx.helper

from edgelite.converter.frontend import import_onnx  # noqa: E402
from edgelite.converter.passes.fold import (  # noqa: E402
    dead_code_elimination,
    fold_constants,
    shape_inference_and_folding,
)
from edgelite.converter.subgraphs import subgraph_reads  # noqa: E402
from edgelite.errors import ConversionError  # noqa: E402
from tests.converter.helpers import check, make_model  # noqa: E402

F32 = np.float32
TRUE = np.array(True)


def _branch(name, nodes, out, shape=(2, 3)):
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, list(shape))])


def _if_reading(then_reads: str, else_reads: str, extra_nodes=(), inits=None, cond="cond"):
    """``y = If(cond, then: then_reads * 2, else: else_reads + 1)`` with cond a constant."""
    then_g = _branch("then", [helper.make_node("Mul", [then_reads, "two"], ["t_out"])], "t_out")
    else_g = _branch("else", [helper.make_node("Add", [else_reads, "one"], ["e_out"])], "e_out")
    nodes = list(extra_nodes) + [helper.make_node("If", [cond], ["y"], then_branch=then_g, else_branch=else_g,
                                                  name="/model/decoder/If_1")]
    inits = {"cond": TRUE, "two": np.array(2.0, F32), "one": np.array(1.0, F32), **(inits or {})}
    return make_model(nodes, [("state", F32, [2, 3])], [("y", F32, [2, 3])], inits, opset=16)


def _ops(g):
    return [n.op_type for n in g.nodes]


def test_subgraph_reads_lists_outer_names_once():
    m = _if_reading("state", "state")
    node = next(n for n in import_onnx(m).nodes if n.op_type == "If")
    reads = subgraph_reads(node.attrs.values())
    assert sorted(reads) == ["one", "state", "two"] and len(reads) == len(set(reads))


def test_subgraph_reads_skips_names_the_body_defines_and_sees_nested_bodies():
    inner = _branch("inner", [helper.make_node("Neg", ["state"], ["n_out"])], "n_out")
    then_g = _branch("then", [
        helper.make_node("Relu", ["two"], ["local"]),
        helper.make_node("If", ["cond"], ["nested"], then_branch=inner, else_branch=inner),
        helper.make_node("Mul", ["local", "nested"], ["t_out"]),
    ], "t_out")
    else_g = _branch("else", [helper.make_node("Identity", ["one"], ["e_out"])], "e_out")
    m = make_model([helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)],
                   [("state", F32, [2, 3])], [("y", F32, [2, 3])],
                   {"cond": TRUE, "two": np.array(2.0, F32), "one": np.array(1.0, F32)}, opset=16)
    node = next(n for n in import_onnx(m).nodes if n.op_type == "If")
    assert sorted(subgraph_reads(node.attrs.values())) == ["cond", "one", "state", "two"]  # not "local"/"nested"


def test_if_with_constant_condition_reading_a_graph_input_becomes_its_branch():
    # The silero-vad case: folding used to run the If on constants and fail with the
    # reference evaluator's "Unable to find input 'state'"; now the branch is inlined.
    g = import_onnx(_if_reading("state", "state"))
    shape_inference_and_folding(g)
    assert _ops(g) == ["Mul"] and g.nodes[0].inputs[0] is g.inputs[0]


def test_if_reading_a_computed_value_becomes_its_branch_reading_the_producer():
    relu = helper.make_node("Relu", ["state"], ["r"])
    g = import_onnx(_if_reading("r", "r", extra_nodes=[relu]))
    shape_inference_and_folding(g)
    dead_code_elimination(g)
    assert _ops(g) == ["Relu", "Mul"]
    assert g.nodes[1].inputs[0] is g.nodes[0].outputs[0]


def test_identity_removed_before_an_if_rewires_what_the_body_reads():
    # The body reads the Identity's output by name; folding drops the Identity, so the
    # inlined branch must read the Identity's input (the graph input).
    ident = helper.make_node("Identity", ["state"], ["s2"])
    m = _if_reading("s2", "s2", extra_nodes=[ident])
    g = import_onnx(m)
    shape_inference_and_folding(g)
    dead_code_elimination(g)
    assert _ops(g) == ["Mul"] and g.nodes[0].inputs[0] is g.inputs[0]
    check(m, {"state": np.linspace(-1, 1, 6, dtype=F32).reshape(2, 3)})


def test_if_reading_only_constants_folds():
    g = import_onnx(_if_reading("w", "w", inits={"w": np.arange(6, dtype=F32).reshape(2, 3)}))
    shape_inference_and_folding(g)
    dead_code_elimination(g)
    assert _ops(g) == []
    np.testing.assert_array_equal(g.outputs[0].data, np.arange(6, dtype=F32).reshape(2, 3) * 2)


def test_if_folds_on_the_else_branch():
    m = _if_reading("w", "w", inits={"w": np.ones((2, 3), F32), "cond": np.array(False)})
    g = import_onnx(m)
    shape_inference_and_folding(g)
    np.testing.assert_array_equal(g.outputs[0].data, np.full((2, 3), 2.0, F32))


def test_folded_if_model_matches_onnx_runtime():
    # y = If(...) + state: the If folds away, the Add on the graph input converts.
    m = _if_reading("w", "w", inits={"w": np.arange(6, dtype=F32).reshape(2, 3)})
    m.graph.node.append(helper.make_node("Add", ["y", "state"], ["z"]))
    del m.graph.output[:]
    m.graph.output.append(helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, [2, 3]))
    ops = check(m, {"state": np.linspace(-1, 1, 6, dtype=F32).reshape(2, 3)})
    assert ops == ["ADD"]


def test_loop_whose_body_reads_a_graph_input_is_left_alone():
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["acc_in", "state"], ["acc_out"])],
        "body",
        [helper.make_tensor_value_info("i", onnx.TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", onnx.TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", onnx.TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("cond_out", onnx.TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", onnx.TensorProto.FLOAT, [2, 3])],
    )
    m = make_model([helper.make_node("Loop", ["trips", "cond", "acc0"], ["y"], body=body)],
                   [("state", F32, [2, 3])], [("y", F32, [2, 3])],
                   {"trips": np.array(3, np.int64), "cond": TRUE, "acc0": np.zeros((2, 3), F32)}, opset=16)
    g = import_onnx(m)
    shape_inference_and_folding(g)
    assert _ops(g) == ["Loop"]


def test_loop_reading_only_constants_folds():
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["acc_in", "step"], ["acc_out"])],
        "body",
        [helper.make_tensor_value_info("i", onnx.TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", onnx.TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", onnx.TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("cond_out", onnx.TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", onnx.TensorProto.FLOAT, [2])],
    )
    m = make_model([helper.make_node("Loop", ["trips", "cond", "acc0"], ["y"], body=body)],
                   [("x", F32, [2])], [("y", F32, [2])],
                   {"trips": np.array(3, np.int64), "cond": TRUE, "acc0": np.zeros(2, F32),
                    "step": np.array([1.0, 0.5], F32)}, opset=16)
    g = import_onnx(m)
    shape_inference_and_folding(g)
    np.testing.assert_array_equal(g.outputs[0].data, np.array([3.0, 1.5], F32))


def test_folding_error_is_worded_by_edgelite():
    # 6 values cannot take shape [4]: every input is constant, evaluation fails.
    m = make_model([helper.make_node("Reshape", ["c", "shape"], ["y"], name="bad_reshape")],
                   [("x", F32, [1])], [("y", F32, None)],
                   {"c": np.arange(6, dtype=F32), "shape": np.array([4], np.int64)})
    g = import_onnx(m)
    with pytest.raises(ConversionError) as info:
        fold_constants(g)
    msg = str(info.value)
    assert msg.startswith("[constant_folding] Reshape node 'bad_reshape'")
    assert "float32[6], int64[1]" in msg
    # nothing of the evaluator's own wording (its result tables, numpy's reshape message)
    for internal in ("known results", "rt_inits_", "cannot reshape array"):
        assert internal not in msg
    assert info.value.__cause__ is not None  # the evaluator's error stays chained for debugging


def test_a_body_of_a_node_that_is_not_control_flow_reads_its_outer_values_as_inputs():
    """SequenceMap's body reads ``state`` from outside: like If/Loop/Scan, the value is
    the node's input after its own (its capture), so passes see and rewire it."""
    from onnx import TensorProto

    body = helper.make_graph([helper.make_node("Add", ["e", "state"], ["o"])], "b",
                             [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2, 3])],
                             [helper.make_tensor_value_info("o", TensorProto.FLOAT, [2, 3])])
    m = make_model(
        [helper.make_node("SequenceConstruct", ["x"], ["s"]), helper.make_node("SequenceMap", ["s"], ["r"], body=body),
         helper.make_node("SequenceAt", ["r", "zero"], ["y"])],
        [("x", F32, [2, 3]), ("state", F32, [2, 3])], [("y", F32, [2, 3])], inits={"zero": np.array(0, np.int64)},
        opset=17,
    )
    g = import_onnx(m)
    smap = next(n for n in g.nodes if n.op_type == "SequenceMap")
    assert smap.ann.captures == ["state"]
    assert smap.inputs[-1] is next(v for v in g.inputs if v.name == "state")
    dead_code_elimination(g)
    assert "SequenceMap" in _ops(g)
