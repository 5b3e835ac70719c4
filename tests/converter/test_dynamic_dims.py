"""Symbolic input dimensions: converted without ``input_shapes`` into ``shape_signature``
-1, run after ``resize_tensor_input`` in edgelite and LiteRT against ONNX Runtime; a graph
that depends on the sizes falls back to fixed shapes; ``input_shapes`` still fixes them."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper

import edgelite
from edgelite.errors import ShapeError
from edgelite.schema import read_model
from tests.converter.helpers import make_model

F32 = np.float32

RNG = np.random.default_rng(3)


def _mlp():
    """[batch, seq, 8] -> MatMul 8x6 + bias -> Relu -> MatMul 6x4 -> Softmax(-1)."""
    inits = {"w1": RNG.normal(size=(8, 6)).astype(np.float32), "b1": RNG.normal(size=(6,)).astype(np.float32),
             "w2": RNG.normal(size=(6, 4)).astype(np.float32)}
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Add", ["h", "b1"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["r"]), helper.make_node("MatMul", ["r", "w2"], ["z"]),
             helper.make_node("Softmax", ["z"], ["y"], axis=-1)]
    return make_model(nodes, [("x", F32, ["batch", "seq", 8])], [("y", F32, ["batch", "seq", 4])], inits)


def _cnn():
    """NCHW [N, 3, H, W] -> 3x3 conv (pads 1) -> Relu -> 2x2 max pool -> global average pool."""
    inits = {"w": RNG.normal(size=(5, 3, 3, 3)).astype(np.float32), "b": RNG.normal(size=(5,)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["p"], ["y"])]
    return make_model(nodes, [("x", F32, ["N", 3, "H", "W"])], [("y", F32, ["N", 5, 1, 1])], inits)


def _run(interp, x: np.ndarray) -> np.ndarray:
    d = interp.get_input_details()[0]
    interp.resize_tensor_input(d["index"], list(x.shape), strict=True)
    interp.allocate_tensors()
    interp.set_tensor(d["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


def _onnxruntime(model, x):
    ort = pytest.importorskip("onnxruntime", reason="ONNX Runtime is the oracle")
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def _check_everywhere(model, data: bytes, x: np.ndarray, feed: np.ndarray) -> None:
    want = _onnxruntime(model, x)
    ours = _run(edgelite.Interpreter(model_content=data), feed)
    np.testing.assert_allclose(ours.reshape(want.shape), want, rtol=1e-5, atol=1e-5)
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="LiteRT (ai-edge-litert) runs the same file")
    theirs = _run(litert.Interpreter(model_content=data, experimental_op_resolver_type=(
        litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)), feed)
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-6)


def test_symbolic_batch_and_sequence_stay_dynamic():
    m = _mlp()
    data = edgelite.convert(m)
    it = edgelite.Interpreter(model_content=data)
    assert it.get_input_details()[0]["shape_signature"].tolist() == [-1, -1, 8]
    assert it.get_output_details()[0]["shape_signature"].tolist() == [-1, -1, 4]
    assert it.get_input_details()[0]["shape"].tolist() == [1, 1, 8]  # allocatable as written
    for shape in [(1, 1, 8), (2, 7, 8), (4, 3, 8)]:
        x = RNG.normal(size=shape).astype(np.float32)
        _check_everywhere(m, data, x, x)


def test_symbolic_image_size_stays_dynamic_in_nhwc():
    m = _cnn()
    data = edgelite.convert(m)  # NCHW input becomes NHWC [-1, -1, -1, 3]
    sig = edgelite.Interpreter(model_content=data).get_input_details()[0]["shape_signature"].tolist()
    assert sig == [-1, -1, -1, 3]
    for shape in [(1, 3, 8, 8), (2, 3, 12, 6)]:
        x = RNG.normal(size=shape).astype(np.float32)
        _check_everywhere(m, data, x, np.ascontiguousarray(x.transpose(0, 2, 3, 1)))


def test_input_shapes_still_fix_the_dimensions():
    data = edgelite.convert(_mlp(), input_shapes={"x": (2, 5, 8)})
    d = edgelite.Interpreter(model_content=data).get_input_details()[0]
    assert d["shape"].tolist() == [2, 5, 8]
    assert d["shape_signature"].tolist() == [2, 5, 8]
    partly = edgelite.convert(_mlp(), input_shapes={"x": (2, 5, 8)}, keep_io_layout=True)
    assert read_model(partly).subgraphs[0].tensors[0].shape_signature in (None, (2, 5, 8))


def test_size_dependent_graph_falls_back_to_fixed_shapes():
    # Flatten's converted target holds N's size: a dynamic batch falls back to 1, as before.
    m = make_model([helper.make_node("Flatten", ["x"], ["y"], axis=0)], [("x", F32, ["N", 3])], [("y", F32, None)])
    d = edgelite.Interpreter(model_content=edgelite.convert(m)).get_input_details()[0]
    assert d["shape"].tolist() == [1, 3] and -1 not in d["shape_signature"].tolist()
    m2 = make_model([helper.make_node("Flatten", ["x"], ["y"], axis=0)], [("x", F32, [1, "T"])], [("y", F32, None)])
    with pytest.raises(ShapeError, match="input_shapes"):
        edgelite.convert(m2)


def test_max_over_a_dimension_that_may_be_empty_keeps_fixed_shapes():
    # LiteRT's REDUCE_MAX of an empty set is -FLT_MAX where ONNX says -inf: no dynamic dim there.
    axes = {"axes": numpy_helper.to_array(numpy_helper.from_array(np.array([1], np.int64)))}
    m = make_model([helper.make_node("ReduceMax", ["x", "axes"], ["y"], keepdims=1)],
                   [("x", F32, ["N", "T", 4])], [("y", F32, None)], axes, opset=18)
    with pytest.raises(ShapeError, match="input_shapes"):
        edgelite.convert(m)
    m_batch = make_model([helper.make_node("ReduceMax", ["x", "axes"], ["y"], keepdims=1)],
                         [("x", F32, ["N", 5, 4])], [("y", F32, None)], axes, opset=18)
    sig = edgelite.Interpreter(model_content=edgelite.convert(m_batch)).get_input_details()[0]["shape_signature"]
    assert sig.tolist() == [-1, 5, 4]  # the reduced axis is fixed, so the batch may stay dynamic
