"""ONNX If / Loop / Scan converted to TFLite IF / WHILE: each model is checked against
ONNX Runtime in edgelite's interpreter and in LiteRT (the same .tflite bytes)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.converter.helpers import check, make_model, onnx, op_names, run_ort, run_tflite
from onnx import TensorProto, helper, numpy_helper

import edgelite
from edgelite.errors import UnsupportedOperatorError
from edgelite.schema import read_model

HERE = os.path.dirname(os.path.abspath(__file__))
F = TensorProto.FLOAT


def _graph(nodes, name, outputs, inputs=(), inits=()):
    return helper.make_graph(nodes, name, list(inputs), [helper.make_tensor_value_info(o, F, None) for o in outputs],
                             list(inits))


def _both(model, feeds, **kw):
    """Check in LiteRT and in edgelite; return the main subgraph's op names."""
    check(model, feeds, interpreter="edgelite", **kw)
    return check(model, feeds, interpreter="litert", **kw)


def _vad_like():
    """A silero-VAD-style If: the branch depends on the input's energy (a graph-input condition);
    both branches read outer values (the input and a weight)."""
    then_b = _graph([helper.make_node("MatMul", ["x", "w"], ["t0"]), helper.make_node("Relu", ["t0"], ["t"])],
                    "then", ["t"])
    else_b = _graph([helper.make_node("Mul", ["x", "half"], ["e0"]), helper.make_node("Tanh", ["e0"], ["e"])], "else",
                    ["e"], inits=[numpy_helper.from_array(np.full((1, 4), 0.5, np.float32), "half")])
    nodes = [
        helper.make_node("ReduceSumSquare", ["x"], ["energy"], keepdims=0),
        helper.make_node("Greater", ["energy", "thresh"], ["loud"]),
        helper.make_node("If", ["loud"], ["y"], then_branch=then_b, else_branch=else_b),
        helper.make_node("Add", ["y", "x"], ["z"]),
    ]
    inits = {"w": np.random.default_rng(1).standard_normal((4, 4)).astype(np.float32),
             "thresh": np.array(2.0, np.float32)}
    return make_model(nodes, [("x", np.float32, [1, 4])], [("z", np.float32, [1, 4])], inits)


@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_if_on_a_runtime_condition(scale):
    m = _vad_like()
    x = (np.ones((1, 4)) * scale).astype(np.float32)
    ops = _both(m, {"x": x})
    assert "IF" in ops
    assert len(read_model(edgelite.convert(m)).subgraphs) == 3


def test_if_on_a_constant_condition_is_inlined():
    then_b = _graph([helper.make_node("Neg", ["x"], ["t"])], "then", ["t"])
    else_b = _graph([helper.make_node("Abs", ["x"], ["e"])], "else", ["e"])
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("ReduceProd", ["s"], ["n"], keepdims=0),
             helper.make_node("Greater", ["n", "four"], ["big"]),
             helper.make_node("If", ["big"], ["y"], then_branch=then_b, else_branch=else_b)]
    m = make_model(nodes, [("x", np.float32, [2, 3])], [("y", np.float32, [2, 3])], {"four": np.array(4, np.int64)})
    ops = _both(m, None)
    assert ops == ["NEG"] and len(read_model(edgelite.convert(m)).subgraphs) == 1


def _loop(trip: int | None, early_exit: bool):
    """Loop: y = y * 0.5 + x[i] each iteration; scan output the running y; optional early exit
    once sum(y) < limit (the condition computed in the body)."""
    body_nodes = [
        helper.make_node("Gather", ["xs", "i"], ["xi"], axis=0),
        helper.make_node("Mul", ["y_in", "half"], ["h"]),
        helper.make_node("Add", ["h", "xi"], ["y_out"]),
        helper.make_node("Identity", ["y_out"], ["scan"]),
    ]
    if early_exit:
        body_nodes += [helper.make_node("ReduceSum", ["y_out"], ["s"], keepdims=0),
                       helper.make_node("Greater", ["s", "limit"], ["c_out"])]
    else:
        body_nodes.append(helper.make_node("Identity", ["c_in"], ["c_out"]))
    body = helper.make_graph(
        body_nodes, "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("y_in", F, [3])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("y_out", F, [3]),
         helper.make_tensor_value_info("scan", F, [3])],
        [numpy_helper.from_array(np.array(0.5, np.float32), "half")])
    ins = [("xs", np.float32, [5, 3]), ("y0", np.float32, [3])]
    inits = {"limit": np.array(-1.0, np.float32)}
    if trip is None:
        ins.append(("m", np.int64, []))
        m_name = "m"
    else:
        inits["m"] = np.array(trip, np.int64)
        m_name = "m"
    ins.append(("c", np.bool_, []))
    nodes = [helper.make_node("Loop", [m_name, "c", "y0"], ["y", "ys"], body=body)]
    outs = [("y", np.float32, [3]), ("ys", np.float32, [trip if trip is not None else 5, 3])]
    return make_model(nodes, ins, outs, inits)


@pytest.mark.parametrize("early_exit", [False, True])
def test_loop_with_scan_output(early_exit):
    m = _loop(5, early_exit)
    rng = np.random.default_rng(0)
    feeds = {"xs": rng.standard_normal((5, 3)).astype(np.float32), "y0": np.ones(3, np.float32),
             "c": np.array(True)}
    ops = _both(m, feeds)
    assert "WHILE" in ops


def test_loop_with_runtime_trip_count_runs_in_both_runtimes():
    m = _loop(None, False)
    rng = np.random.default_rng(2)
    for n in (5, 2, 0):
        feeds = {"xs": rng.standard_normal((5, 3)).astype(np.float32), "y0": np.ones(3, np.float32),
                 "m": np.array(n, np.int64), "c": np.array(True)}
        want = run_ort(m, feeds)
        tfl = edgelite.convert(m)
        for interp in ("edgelite", "litert"):
            got = run_tflite(tfl, feeds, interp)
            np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
            assert got[1].shape == want[1].shape == (n, 3)
            np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reverse_in,reverse_out,out_axis", [(0, 0, 0), (1, 0, 0), (0, 1, 1), (1, 1, -1)])
def test_scan_directions_and_axes(reverse_in, reverse_out, out_axis):
    body = helper.make_graph(
        [helper.make_node("Add", ["acc_in", "x_t"], ["acc_out"]),
         helper.make_node("Mul", ["acc_out", "w"], ["y_t"])],
        "scan_body",
        [helper.make_tensor_value_info("acc_in", F, [2]), helper.make_tensor_value_info("x_t", F, [2])],
        [helper.make_tensor_value_info("acc_out", F, [2]), helper.make_tensor_value_info("y_t", F, [2])])
    node = helper.make_node("Scan", ["a0", "xs"], ["a", "ys"], body=body, num_scan_inputs=1,
                            scan_input_axes=[1], scan_input_directions=[reverse_in],
                            scan_output_axes=[out_axis], scan_output_directions=[reverse_out])
    ys_shape = [4, 2] if out_axis == 0 else [2, 4]
    m = make_model([node], [("a0", np.float32, [2]), ("xs", np.float32, [2, 4])],
                   [("a", np.float32, [2]), ("ys", np.float32, ys_shape)], {"w": np.array([1.0, -2.0], np.float32)})
    assert "WHILE" in _both(m, None)


def _scan8(reverse: int, seq_lens=None):
    """Scan-8: batch axis 0, two scan inputs along axis 1 (one reversed when ``reverse``)."""
    body = helper.make_graph(
        [helper.make_node("Add", ["acc_in", "x_t"], ["s"]),
         helper.make_node("Mul", ["s", "v_t"], ["acc_out"]),
         helper.make_node("Sub", ["acc_out", "x_t"], ["y_t"])],
        "scan_body",
        [helper.make_tensor_value_info(n, F, [3]) for n in ("acc_in", "x_t", "v_t")],
        [helper.make_tensor_value_info("acc_out", F, [3]), helper.make_tensor_value_info("y_t", F, [3])])
    inits = {}
    if seq_lens is not None:
        inits["lens"] = np.array(seq_lens, np.int64)
    node = helper.make_node("Scan", ["lens" if seq_lens is not None else "", "a0", "xs", "vs"], ["a", "ys"],
                            body=body, num_scan_inputs=2, directions=[0, reverse])
    return make_model([node], [("a0", np.float32, [2, 3]), ("xs", np.float32, [2, 4, 3]), ("vs", np.float32, [2, 4, 3])],
                      [("a", np.float32, [2, 3]), ("ys", np.float32, [2, 4, 3])], inits, opset=8)


@pytest.mark.parametrize("reverse", [0, 1])
def test_scan8_batch_split_per_element(reverse):
    m = _scan8(reverse)
    rng = np.random.default_rng(8)
    feeds = {"a0": rng.standard_normal((2, 3)).astype(np.float32),
             "xs": rng.standard_normal((2, 4, 3)).astype(np.float32),
             "vs": rng.uniform(0.5, 1.5, (2, 4, 3)).astype(np.float32)}
    # numpy model of Scan-8 (the ONNX reference has none): each batch element scans on its own
    a, ys = feeds["a0"].copy(), np.zeros((2, 4, 3), np.float32)
    for b in range(2):
        for t in range(4):
            tv = 3 - t if reverse else t
            a[b] = (a[b] + feeds["xs"][b, t]) * feeds["vs"][b, tv]
            ys[b, t] = a[b] - feeds["xs"][b, t]
    for got, want in zip(run_ort(m, feeds), (a, ys)):  # ONNX Runtime agrees with it
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert op_names(edgelite.convert(m)).count("WHILE") == 2  # one loop per batch element
    _both(m, feeds)


def test_scan8_constant_full_sequence_lens_and_refusal():
    _both(_scan8(0, [4, 4]), None)
    with pytest.raises(UnsupportedOperatorError, match="sequence_lens"):
        edgelite.convert(_scan8(0, [4, 2]))


def test_loop_slice_by_iteration_count():
    """``y += x[i:i+1]`` (ONNX's loop11): the slice's shape follows from the carried value's
    (its reader's output is [1]), which the While body declares."""
    one = numpy_helper.from_array(np.array([1], np.int64), "one")
    xs = numpy_helper.from_array(np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32), "xs")
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Unsqueeze", ["i", "zero"], ["start"]),
         helper.make_node("Add", ["start", "one"], ["end"]),
         helper.make_node("Slice", ["xs", "start", "end"], ["piece"]),
         helper.make_node("Add", ["y_in", "piece"], ["y_out"]),
         helper.make_node("Identity", ["y_out"], ["row"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("y_in", F, [1])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []), helper.make_tensor_value_info("y_out", F, [1]),
         helper.make_tensor_value_info("row", F, [1])],
        [one, xs, numpy_helper.from_array(np.array([0], np.int64), "zero")])
    node = helper.make_node("Loop", ["M", "", "y0"], ["y", "rows"], body=body)
    m = make_model([node], [("y0", np.float32, [1])], [("y", np.float32, [1]), ("rows", np.float32, [4, 1])],
                   {"M": np.array(4, np.int64)}, opset=13)
    assert "WHILE" in _both(m, {"y0": np.array([-2.0], np.float32)})


def test_nested_if_inside_loop():
    inner_then = _graph([helper.make_node("Add", ["y_in", "one"], ["t"])], "t", ["t"])
    inner_else = _graph([helper.make_node("Sub", ["y_in", "one"], ["e"])], "e", ["e"])
    body = helper.make_graph(
        [helper.make_node("Cast", ["i"], ["fi"], to=F),
         helper.make_node("Mod", ["i", "two"], ["r"]),
         helper.make_node("Equal", ["r", "zero"], ["even"]),
         helper.make_node("If", ["even"], ["y_out"], then_branch=inner_then, else_branch=inner_else),
         helper.make_node("Identity", ["c_in"], ["c_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("y_in", F, [2])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("y_out", F, [2])],
        [numpy_helper.from_array(np.array(2, np.int64), "two"), numpy_helper.from_array(np.array(0, np.int64), "zero")])
    nodes = [helper.make_node("Loop", ["m", "", "y0"], ["y"], body=body)]
    m = make_model(nodes, [("y0", np.float32, [2])], [("y", np.float32, [2])],
                   {"m": np.array(5, np.int64), "one": np.array([1.0, 10.0], np.float32)})
    _both(m, {"y0": np.zeros(2, np.float32)})
    assert len(read_model(edgelite.convert(m)).subgraphs) == 5  # main, cond, body, then, else


def test_unsupported_op_in_a_body_names_the_node():
    # random numbers have no exact lowering (see conformance-analysis.md), so this stays refused
    then_b = _graph([helper.make_node("RandomNormal", [], ["t"], shape=[1], seed=1.0)], "then", ["t"])
    else_b = _graph([helper.make_node("Abs", ["x"], ["e"])], "else", ["e"])
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=then_b, else_branch=else_b)]
    m = make_model(nodes, [("c", np.bool_, []), ("x", np.float32, [1])], [("y", np.float32, [1])])
    with pytest.raises(UnsupportedOperatorError, match="If node(.|\n)*RandomNormal"):
        edgelite.convert(m)


def test_branches_with_different_shapes_are_refused():
    then_b = _graph([helper.make_node("Identity", ["x"], ["t"])], "then", ["t"])
    else_b = _graph([helper.make_node("Concat", ["x", "x"], ["e"], axis=0)], "else", ["e"])
    nodes = [helper.make_node("If", ["c"], ["y"], then_branch=then_b, else_branch=else_b)]
    m = make_model(nodes, [("c", np.bool_, []), ("x", np.float32, [2])], [("y", np.float32, None)])
    with pytest.raises(UnsupportedOperatorError, match="one static shape"):
        edgelite.convert(m)


def test_pytorch_exported_loop():
    """tests/converter/models/loop_cumulative.onnx: a scripted PyTorch loop (make_control_flow.py)."""
    path = os.path.join(HERE, "models", "loop_cumulative.onnx")
    m = onnx.load(path)
    assert any(n.op_type == "Loop" for n in m.graph.node)
    rng = np.random.default_rng(3)
    feeds = {"x": rng.standard_normal((4, 8)).astype(np.float32)}
    assert "WHILE" in _both(m, feeds, keep_io_layout=True)


def test_quantizing_control_flow_is_refused():
    with pytest.raises(edgelite.errors.QuantizationError, match="control flow"):
        edgelite.convert(_vad_like(), quantize="dynamic")
