"""OptionalHasElement / OptionalGetElement of plain tensors (or of no input), in edgelite and LiteRT."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

import edgelite  # noqa: E402
from edgelite.errors import UnsupportedOperatorError  # noqa: E402
from tests.converter.ext_helpers import oracle  # noqa: E402
from tests.converter.helpers import run_tflite  # noqa: E402


def model(nodes, inputs, outputs):
    g = helper.make_graph(nodes, "t", inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 10
    return m


def run_both(m, feeds):
    tfl = edgelite.convert(m, keep_io_layout=True)
    want = oracle(m, feeds, use_reference=True)
    for runtime in ("edgelite", "litert"):
        got = [np.asarray(v) for v in run_tflite(tfl, feeds, runtime)]
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def test_has_element_without_input_is_false():
    m = model([helper.make_node("OptionalHasElement", [], ["h"])], [],
              [helper.make_tensor_value_info("h", TensorProto.BOOL, [])])
    tfl = edgelite.convert(m)
    for runtime in ("edgelite", "litert"):
        assert np.asarray(run_tflite(tfl, {}, runtime)[0]).item() is False
    run_both(m, {})


def test_has_element_of_tensor_and_get_element():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    nodes = [helper.make_node("OptionalHasElement", ["x"], ["h"]),
             helper.make_node("OptionalGetElement", ["x"], ["g"]),
             helper.make_node("Relu", ["g"], ["r"])]
    outs = [helper.make_tensor_value_info("h", TensorProto.BOOL, []),
            helper.make_tensor_value_info("r", TensorProto.FLOAT, [2, 3])]
    run_both(model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])], outs), {"x": x - 2})


def test_get_element_graph_input_to_output():
    x = np.array([1.5, -2.0, 3.0, 4.0], np.float32)
    m = model([helper.make_node("OptionalGetElement", ["x"], ["y"])],
              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    run_both(m, {"x": x})


def test_optional_values_stay_refused():
    # an empty optional made by Optional(): not a tensor, so not rewritten (and no converter)
    nodes = [helper.make_node("Optional", [], ["o"], type=helper.make_tensor_type_proto(TensorProto.FLOAT, [2])),
             helper.make_node("OptionalHasElement", ["o"], ["h"])]
    m = model(nodes, [], [helper.make_tensor_value_info("h", TensorProto.BOOL, [])])
    with pytest.raises(UnsupportedOperatorError, match="Optional"):
        edgelite.convert(m)
