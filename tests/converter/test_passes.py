"""Pass-level tests: each named pass does its rewrite (checked on the IR and the ops
written) and the converted model still matches ONNX Runtime."""

from __future__ import annotations

import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
helper = onnx.helper

from edgelite.converter import ConvertOptions
from edgelite.converter.api import convert_to_graph
from edgelite.converter.frontend import import_onnx
from edgelite.converter.passes import pipeline
from edgelite.converter.passes.fold import dead_code_elimination, shape_inference_and_folding
from edgelite.converter.passes.layout import channels_last, compose, inverse, same_bytes
from tests.converter.helpers import check, make_model

F32 = np.float32
rng = np.random.default_rng(7)


def w(*shape):
    return rng.standard_normal(shape).astype(F32)


def test_pipeline_is_named_and_ordered():
    names = [n for n, _ in pipeline()]
    assert len(names) == len(set(names))
    for a, b in [
        ("shape_inference", "fold_batchnorm"),
        ("fold_batchnorm", "canonicalize"),
        ("hard_swish", "layout"),
        ("gelu", "layout"),
        ("fully_connected", "layout"),
        ("check_supported", "layout"),
        ("layout", "fuse_activations"),
    ]:
        assert names.index(a) < names.index(b)


def test_shape_chain_folds_to_constant_reshape():
    # The Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain PyTorch writes for flatten.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "ax0"], ["nu"]),
        helper.make_node("Concat", ["nu", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    m = make_model(
        nodes,
        [("x", F32, [2, 3, 4])],
        [("y", F32, None)],
        {"zero": np.array(0, np.int64), "ax0": np.array([0], np.int64), "minus1": np.array([-1], np.int64)},
    )
    g = import_onnx(m)
    shape_inference_and_folding(g)
    dead_code_elimination(g)
    assert [n.op_type for n in g.nodes] == ["Reshape"]
    assert g.nodes[0].inputs[1].data.tolist() == [2, -1]
    assert g.nodes[0].outputs[0].shape == (2, 12)
    assert check(m) == ["RESHAPE"]


def test_constant_subgraph_is_folded():
    nodes = [
        helper.make_node("Mul", ["a", "b"], ["ab"]),
        helper.make_node("Sqrt", ["ab"], ["r"]),
        helper.make_node("Add", ["x", "r"], ["y"]),
    ]
    m = make_model(
        nodes, [("x", F32, [3])], [("y", F32, None)], {"a": np.array([1, 4, 9], F32), "b": np.array([4, 4, 4], F32)}
    )
    assert check(m) == ["ADD"]


def test_dead_code_is_removed():
    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Exp", ["x"], ["unused"])]
    m = make_model(nodes, [("x", F32, [3])], [("y", F32, None)])
    assert check(m) == ["RELU"]


def test_batchnorm_folds_into_conv_and_relu_fuses():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["y"]),
    ]
    m = make_model(
        nodes,
        [("x", F32, [1, 3, 6, 6])],
        [("y", F32, None)],
        {"w": w(5, 3, 3, 3), "s": w(5), "b": w(5), "m": w(5), "v": np.abs(w(5)) + 0.3},
    )
    assert check(m) == ["CONV_2D"]


@pytest.mark.parametrize("act,opname", [("relu6", "CONV_2D"), ("relu_n1", "CONV_2D"), ("relu", "ADD")])
def test_activation_fusion(act, opname):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"])]
    src = "c"
    if opname == "ADD":
        nodes.append(helper.make_node("Add", ["c", "k"], ["a"]))
        src = "a"
    lo, hi = {"relu6": (0, 6), "relu_n1": (-1, 1), "relu": (0, None)}[act]
    if act == "relu":
        nodes.append(helper.make_node("Relu", [src], ["y"]))
    else:
        nodes.append(helper.make_node("Clip", [src, "lo", "hi"], ["y"]))
    m = make_model(
        nodes,
        [("x", F32, [1, 3, 4, 4])],
        [("y", F32, None)],
        {"w": w(4, 3, 1, 1) * 3, "k": w(4, 1, 1), "lo": np.array(lo, F32), "hi": np.array(hi or 0, F32)},
    )
    ops = check(m)
    assert ops[-1] == opname and not {"RELU", "RELU6", "RELU_N1_TO_1"} & set(ops)


def test_activation_not_fused_into_output_read_twice():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]
    m = make_model(nodes, [("x", F32, [1, 3, 4, 4])], [("y", F32, None), ("c", F32, None)], {"w": w(4, 3, 1, 1)})
    assert "RELU" in check(m)


def _hardswish_nodes(form):
    if form == "div_last":  # x * relu6(x + 3) / 6
        return [
            helper.make_node("Add", ["c", "three"], ["a"]),
            helper.make_node("Clip", ["a", "zero", "six"], ["r"]),
            helper.make_node("Mul", ["c", "r"], ["m"]),
            helper.make_node("Div", ["m", "six"], ["y"]),
        ]
    if form == "div_first":  # x * (relu6(x + 3) / 6)
        return [
            helper.make_node("Add", ["c", "three"], ["a"]),
            helper.make_node("Clip", ["a", "zero", "six"], ["r"]),
            helper.make_node("Div", ["r", "six"], ["d"]),
            helper.make_node("Mul", ["c", "d"], ["y"]),
        ]
    if form == "hardsigmoid":  # x * HardSigmoid(x) with alpha 1/6
        return [
            helper.make_node("HardSigmoid", ["c"], ["h"], alpha=1 / 6, beta=0.5),
            helper.make_node("Mul", ["c", "h"], ["y"]),
        ]
    return [helper.make_node("HardSwish", ["c"], ["y"])]


@pytest.mark.parametrize("form", ["div_last", "div_first", "hardsigmoid", "op"])
def test_hard_swish_recognized(form):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"])] + _hardswish_nodes(form)
    m = make_model(
        nodes,
        [("x", F32, [1, 3, 5, 5])],
        [("y", F32, None)],
        {"w": w(4, 3, 1, 1) * 3, "three": np.array(3, F32), "zero": np.array(0, F32), "six": np.array(6, F32)},
    )
    assert check(m) == ["CONV_2D", "HARD_SWISH"]


@pytest.mark.parametrize("form", ["erf", "erf_half_first", "tanh"])
def test_gelu_recognized(form):
    c = {
        "sqrt2": np.array(math.sqrt(2), F32),
        "one": np.array(1, F32),
        "half": np.array(0.5, F32),
        "three": np.array(3, F32),
        "k": np.array(0.044715, F32),
        "s": np.array(math.sqrt(2 / math.pi), F32),
    }
    if form == "erf":
        nodes = [
            helper.make_node("Div", ["x", "sqrt2"], ["d"]),
            helper.make_node("Erf", ["d"], ["e"]),
            helper.make_node("Add", ["e", "one"], ["a"]),
            helper.make_node("Mul", ["x", "a"], ["m"]),
            helper.make_node("Mul", ["m", "half"], ["y"]),
        ]
    elif form == "erf_half_first":
        nodes = [
            helper.make_node("Mul", ["x", "half"], ["h"]),
            helper.make_node("Div", ["x", "sqrt2"], ["d"]),
            helper.make_node("Erf", ["d"], ["e"]),
            helper.make_node("Add", ["e", "one"], ["a"]),
            helper.make_node("Mul", ["h", "a"], ["y"]),
        ]
    else:
        nodes = [
            helper.make_node("Pow", ["x", "three"], ["p"]),
            helper.make_node("Mul", ["p", "k"], ["pk"]),
            helper.make_node("Add", ["x", "pk"], ["in"]),
            helper.make_node("Mul", ["in", "s"], ["ins"]),
            helper.make_node("Tanh", ["ins"], ["t"]),
            helper.make_node("Add", ["t", "one"], ["a"]),
            helper.make_node("Mul", ["x", "a"], ["m"]),
            helper.make_node("Mul", ["m", "half"], ["y"]),
        ]
    m = make_model(nodes, [("x", F32, [2, 8])], [("y", F32, None)], c)
    assert check(m) == ["GELU"]


def test_layout_helpers():
    p = channels_last(4)
    assert compose(p, inverse(p)) == (0, 1, 2, 3)
    assert same_bytes((1, 8, 1, 1), (0, 1, 2, 3), p)
    assert not same_bytes((1, 8, 2, 1), (0, 1, 2, 3), p)


def test_layout_records_perm_and_physical_shapes():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"])]
    m = make_model(nodes, [("x", F32, [1, 3, 5, 6])], [("y", F32, None)], {"w": w(4, 3, 1, 1)})
    g, io = convert_to_graph(m, ConvertOptions())
    assert g.inputs[0].shape == (1, 5, 6, 3) and g.inputs[0].perm == (0, 2, 3, 1)
    assert io == {"x": "NHWC", "y": "NHWC"}
    g, io = convert_to_graph(m, ConvertOptions(keep_io_layout=True))
    assert g.inputs[0].shape == (1, 3, 5, 6) and io == {"x": "NCHW", "y": "NCHW"}


def test_squeeze_excite_block_has_no_transpose():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("GlobalAveragePool", ["c"], ["p"]),
        helper.make_node("Conv", ["p", "w1", "b1"], ["s1"]),
        helper.make_node("Relu", ["s1"], ["r"]),
        helper.make_node("Conv", ["r", "w2", "b2"], ["s2"]),
        helper.make_node("HardSigmoid", ["s2"], ["h"]),
        helper.make_node("Mul", ["c", "h"], ["y"]),
    ]
    m = make_model(
        nodes,
        [("x", F32, [1, 3, 6, 6])],
        [("y", F32, None)],
        {"w": w(8, 3, 1, 1), "w1": w(2, 8, 1, 1), "b1": w(2), "w2": w(8, 2, 1, 1), "b2": w(8)},
    )
    assert "TRANSPOSE" not in check(m)
