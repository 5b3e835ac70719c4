"""Single-op conversions: each ONNX op converted, run in LiteRT, compared with ONNX Runtime.

Graphs are built with ``onnx.helper`` (no torch). 4-D inputs feeding convolutions
become NHWC, so most cases also exercise the layout pass on that op.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
helper = onnx.helper

from tests.converter.helpers import check, make_model

F32 = np.float32
rng = np.random.default_rng(42)


def w(*shape):
    return rng.standard_normal(shape).astype(F32)


def conv_net(tail_nodes, tail_out_shape, inits=None, x_shape=(1, 3, 8, 8), opset=17, out_dtype=F32):
    """x -> Conv(3->4, 1x1) -> <tail nodes reading 'c'> -> 'y' (the conv makes the data NHWC)."""
    nodes = [helper.make_node("Conv", ["x", "cw"], ["c"])] + tail_nodes
    all_inits = {"cw": w(4, x_shape[1], 1, 1)}
    all_inits.update(inits or {})
    return make_model(nodes, [("x", F32, list(x_shape))], [("y", out_dtype, tail_out_shape)], all_inits, opset)


# -- convolutions -------------------------------------------------------------------

CONV_CASES = [
    dict(k=3, s=1, p=[1, 1, 1, 1]),
    dict(k=3, s=2, p=[1, 1, 1, 1]),  # PyTorch padding: explicit PAD
    dict(k=3, s=2, p=[0, 0, 1, 1]),  # equals TF SAME
    dict(k=5, s=1, p=[2, 1, 2, 1]),  # asymmetric
    dict(k=3, s=1, p=[2, 2, 2, 2], d=2),  # dilation
    dict(k=3, s=2, auto="SAME_UPPER"),
    dict(k=3, s=1, auto="VALID"),
    dict(k=3, s=1, p=[1, 1, 1, 1], g="dw"),  # depthwise
    dict(k=3, s=2, p=[1, 1, 1, 1], g="dw2"),  # depthwise, multiplier 2
    dict(k=1, s=1, p=[0, 0, 0, 0], bias=False),
    dict(k=3, s=1, p=[1, 1, 1, 1], g="g2"),  # grouped: SPLIT + CONV_2D per group + CONCATENATION
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_conv2d(case):
    cin = 4
    group, cout = 1, 6
    if case.get("g") == "dw":
        group, cout = cin, cin
    elif case.get("g") == "dw2":
        group, cout = cin, 2 * cin
    elif case.get("g") == "g2":
        group, cout = 2, 6
    attrs = dict(kernel_shape=[case["k"]] * 2, strides=[case["s"]] * 2, group=group)
    if "auto" in case:
        attrs["auto_pad"] = case["auto"]
    else:
        attrs["pads"] = case["p"]
    if "d" in case:
        attrs["dilations"] = [case["d"]] * 2
    ins = ["x", "w"] + (["b"] if case.get("bias", True) else [])
    node = helper.make_node("Conv", ins, ["y"], **attrs)
    m = make_model(
        [node],
        [("x", F32, [1, cin, 11, 10])],
        [("y", F32, None)],
        {"w": w(cout, cin // group, case["k"], case["k"]), "b": w(cout)},
    )
    ops = check(m)
    assert "TRANSPOSE" not in ops
    assert ("DEPTHWISE_CONV_2D" in ops) == (group == cin)
    assert ops.count("CONV_2D") == (group if group not in (1, cin) else int(group == 1))


@pytest.mark.parametrize("stride,pads", [(1, [1, 1]), (2, [1, 1]), (1, [0, 2])])
def test_conv1d(stride, pads):
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3], strides=[stride], pads=pads)
    m = make_model([node], [("x", F32, [1, 5, 17])], [("y", F32, None)], {"w": w(7, 5, 3), "b": w(7)})
    ops = check(m)
    assert "TRANSPOSE" not in ops and "CONV_2D" in ops


@pytest.mark.parametrize(
    "k,s,pads,out_pad",
    [
        (2, 2, [0, 0, 0, 0], [0, 0]),
        (3, 2, [1, 1, 1, 1], [1, 1]),
        (4, 2, [1, 1, 1, 1], [0, 0]),
        (3, 1, [0, 0, 0, 0], [0, 0]),
    ],
)
def test_conv_transpose(k, s, pads, out_pad):
    node = helper.make_node(
        "ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[k, k], strides=[s, s], pads=pads, output_padding=out_pad
    )
    m = make_model([node], [("x", F32, [1, 4, 5, 6])], [("y", F32, None)], {"w": w(4, 3, k, k), "b": w(3)})
    ops = check(m)
    assert "TRANSPOSE_CONV" in ops and "TRANSPOSE" not in ops


# -- pooling ------------------------------------------------------------------------

POOL_CASES = [
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ("MaxPool", dict(kernel_shape=[2, 2], strides=[2, 2])),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])),  # = TF SAME
    ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, 2])),
    ("GlobalAveragePool", {}),
    ("GlobalMaxPool", {}),
]


@pytest.mark.parametrize("op,attrs", POOL_CASES, ids=lambda v: str(v))
def test_pool(op, attrs):
    m = conv_net([helper.make_node(op, ["c"], ["y"], **attrs)], None, x_shape=(1, 3, 9, 10))
    ops = check(m)
    assert "TRANSPOSE" not in ops


def test_pool1d():
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3], strides=[2], pads=[1, 1])
    conv = helper.make_node("Conv", ["i", "w"], ["x"], kernel_shape=[1])
    m = make_model([conv, node], [("i", F32, [1, 3, 15])], [("y", F32, None)], {"w": w(4, 3, 1)})
    assert "TRANSPOSE" not in check(m)


# -- elementwise ----------------------------------------------------------------------


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min", "Pow"])
def test_binary_with_channel_constant(op):
    # A per-channel constant [C, 1, 1] must follow the data into NHWC.
    const = np.abs(w(4, 1, 1)) + 0.5 if op in ("Div", "Pow") else w(4, 1, 1)
    x_in = ["c", "k"]
    nodes = [helper.make_node("Abs", ["c"], ["a"])] if op == "Pow" else []
    if op == "Pow":
        x_in = ["a", "k"]
    m = conv_net(nodes + [helper.make_node(op, x_in, ["y"])], None, {"k": const})
    assert "TRANSPOSE" not in check(m)


@pytest.mark.parametrize(
    "op",
    [
        "Relu",
        "Sigmoid",
        "Tanh",
        "Exp",
        "Abs",
        "Neg",
        "Floor",
        "Ceil",
        "Sin",
        "Cos",
        "HardSwish",
        "HardSigmoid",
        "Elu",
        "LeakyRelu",
        "Reciprocal",
        "Sqrt",
        "Log",
    ],
)
def test_unary(op):
    src = "c"
    nodes = []
    if op in ("Sqrt", "Log", "Reciprocal"):
        nodes = [helper.make_node("Abs", ["c"], ["a0"]), helper.make_node("Add", ["a0", "one"], ["a"])]
        src = "a"
    m = conv_net(nodes + [helper.make_node(op, [src], ["y"])], None, {"one": np.array(0.5, F32)})
    check(m, rtol=2e-4)


@pytest.mark.parametrize("lo,hi", [(0.0, 6.0), (-1.0, 1.0), (0.0, None), (-0.5, 0.25), (None, 0.3)])
def test_clip(lo, hi):
    ins = ["c", "lo" if lo is not None else "", "hi" if hi is not None else ""]
    inits = {}
    if lo is not None:
        inits["lo"] = np.array(lo, F32)
    if hi is not None:
        inits["hi"] = np.array(hi, F32)
    check(conv_net([helper.make_node("Clip", ins, ["y"])], None, inits))


def test_prelu():
    check(conv_net([helper.make_node("PRelu", ["c", "s"], ["y"])], None, {"s": w(4, 1, 1)}))


def test_where_compare_cast():
    nodes = [
        helper.make_node("Greater", ["a", "b"], ["g"]),
        helper.make_node("Where", ["g", "a", "b"], ["y"]),
        helper.make_node("Cast", ["g"], ["z"], to=1),
    ]
    m = make_model(nodes, [("a", F32, [2, 3, 4]), ("b", F32, [3, 4])], [("y", F32, None), ("z", F32, None)])
    check(m)


# -- reductions and softmax ----------------------------------------------------------


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"])
@pytest.mark.parametrize("axes,keep", [([1], 1), ([2, 3], 0), ([1], 0), ([-1], 1)])
def test_reduce(op, axes, keep):
    node = helper.make_node(op, ["c", "axes"], ["y"], keepdims=keep)
    m = conv_net([node], None, {"axes": np.array(axes, np.int64)}, opset=18)
    assert "TRANSPOSE" not in check(m, rtol=1e-3)


@pytest.mark.parametrize("axis", [1, 2, 3, -1])
def test_softmax_any_axis(axis):
    m = conv_net([helper.make_node("Softmax", ["c"], ["y"], axis=axis)], None)
    check(m)


def test_softmax_opset11_flattens():
    node = helper.make_node("Softmax", ["x"], ["y"], axis=1)
    check(make_model([node], [("x", F32, [2, 3, 4])], [("y", F32, None)], opset=11))


@pytest.mark.parametrize("op,keep", [("ArgMax", 1), ("ArgMax", 0), ("ArgMin", 0)])
def test_argmax(op, keep):
    m = conv_net([helper.make_node(op, ["c"], ["y"], axis=1, keepdims=keep)], None, out_dtype=np.int64)
    check(m)


# -- shape and data movement ----------------------------------------------------------


def test_concat_split_slice_pad():
    nodes = [
        helper.make_node("Concat", ["c", "c"], ["cat"], axis=1),
        helper.make_node("Split", ["cat", "split"], ["s0", "s1"], axis=1),
        helper.make_node("Slice", ["s0", "st", "en", "ax", "sp"], ["sl"]),
        helper.make_node("Pad", ["sl", "pads"], ["y"]),
    ]
    inits = {
        "split": np.array([3, 5], np.int64),
        "st": np.array([1, -1], np.int64),
        "en": np.array([7, 0], np.int64),
        "ax": np.array([2, 3], np.int64),
        "sp": np.array([2, -2], np.int64),
        "pads": np.array([0, 0, 1, 2, 0, 1, 0, 1], np.int64),
    }
    m = conv_net(nodes, None, inits)
    assert "TRANSPOSE" not in check(m)


def test_reflect_pad_and_constant_value():
    nodes = [
        helper.make_node("Pad", ["c", "pads"], ["p"], mode="reflect"),
        helper.make_node("Pad", ["p", "pads", "v"], ["y"]),
    ]
    m = conv_net(nodes, None, {"pads": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64), "v": np.array(1.5, F32)})
    check(m)


def test_transposes_cancel_and_sink():
    # NCHW -> NHWC -> NCHW around an elementwise op: no TRANSPOSE must remain.
    nodes = [
        helper.make_node("Transpose", ["c"], ["t1"], perm=[0, 2, 3, 1]),
        helper.make_node("Relu", ["t1"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t2"], perm=[0, 3, 1, 2]),
        helper.make_node("MaxPool", ["t2"], ["y"], kernel_shape=[2, 2], strides=[2, 2]),
    ]
    assert "TRANSPOSE" not in check(conv_net(nodes, None))


def test_transpose_kept_when_needed():
    node = helper.make_node("Transpose", ["x"], ["y"], perm=[1, 0, 2])
    ops = check(make_model([node], [("x", F32, [2, 3, 4])], [("y", F32, None)]))
    assert ops.count("TRANSPOSE") == 1


def test_squeeze_unsqueeze_reshape_flatten():
    nodes = [
        helper.make_node("ReduceMean", ["c"], ["m"], axes=[2, 3], keepdims=1),
        helper.make_node("Squeeze", ["m", "ax"], ["s"]),
        helper.make_node("Unsqueeze", ["s", "ax1"], ["u"]),
        helper.make_node("Flatten", ["u"], ["f"], axis=1),
        helper.make_node("Reshape", ["f", "shape"], ["y"]),
    ]
    inits = {"ax": np.array([2, 3], np.int64), "ax1": np.array([1], np.int64), "shape": np.array([2, 2], np.int64)}
    assert "TRANSPOSE" not in check(conv_net(nodes, None, inits))


def test_flatten_before_linear_permutes_weights():
    nodes = [helper.make_node("Flatten", ["c"], ["f"]), helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)]
    m = conv_net(nodes, None, {"fw": w(5, 4 * 6 * 7), "fb": w(5)}, x_shape=(1, 3, 6, 7))
    ops = check(m)
    assert "TRANSPOSE" not in ops and "FULLY_CONNECTED" in ops


def test_gather_embedding_and_index():
    nodes = [helper.make_node("Gather", ["emb", "ids"], ["e"]), helper.make_node("Gather", ["e", "i"], ["y"], axis=1)]
    m = make_model(
        nodes, [("ids", np.int64, [1, 5])], [("y", F32, None)], {"emb": w(10, 6), "i": np.array(-1, np.int64)}
    )
    check(m, feeds={"ids": np.array([[1, 4, 9, 0, 3]], np.int64)})


def test_expand_tile():
    nodes = [helper.make_node("Expand", ["x", "shape"], ["e"]), helper.make_node("Tile", ["e", "rep"], ["y"])]
    m = make_model(
        nodes,
        [("x", F32, [3, 1])],
        [("y", F32, None)],
        {"shape": np.array([2, 3, 4], np.int64), "rep": np.array([1, 2, 1], np.int64)},
    )
    check(m)


@pytest.mark.parametrize(
    "mode,ctm,nm",
    [
        ("linear", "half_pixel", None),
        ("linear", "align_corners", None),
        ("linear", "asymmetric", None),
        ("nearest", "asymmetric", "floor"),
        ("linear", "pytorch_half_pixel", None),
    ],
)
def test_resize(mode, ctm, nm):
    attrs = dict(mode=mode, coordinate_transformation_mode=ctm)
    if nm:
        attrs["nearest_mode"] = nm
    node = helper.make_node("Resize", ["c", "", "scales"], ["y"], **attrs)
    m = conv_net([node], None, {"scales": np.array([1, 1, 2, 2], F32)}, x_shape=(1, 3, 5, 6))
    assert "TRANSPOSE" not in check(m)


def test_depth_to_space_space_to_depth():
    nodes = [
        helper.make_node("SpaceToDepth", ["c"], ["s"], blocksize=2),
        helper.make_node("DepthToSpace", ["s"], ["y"], blocksize=2, mode="DCR"),
    ]
    check(conv_net(nodes, None))


# -- matmul and normalization -----------------------------------------------------------


def test_matmul_runtime_and_constant():
    nodes = [helper.make_node("MatMul", ["a", "b"], ["ab"]), helper.make_node("MatMul", ["ab", "wc"], ["y"])]
    m = make_model(nodes, [("a", F32, [2, 3, 4, 5]), ("b", F32, [2, 3, 5, 6])], [("y", F32, None)], {"wc": w(6, 7)})
    ops = check(m)
    assert "BATCH_MATMUL" in ops and "FULLY_CONNECTED" in ops


@pytest.mark.parametrize("alpha,beta,trans_b", [(1.0, 1.0, 0), (0.5, 2.0, 1)])
def test_gemm(alpha, beta, trans_b):
    node = helper.make_node("Gemm", ["x", "b", "c"], ["y"], alpha=alpha, beta=beta, transB=trans_b)
    m = make_model([node], [("x", F32, [3, 4])], [("y", F32, None)], {"b": w(5, 4) if trans_b else w(4, 5), "c": w(5)})
    assert check(m) == ["FULLY_CONNECTED"]


def test_layer_norm_and_rms_decomposed():
    nodes = [helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1, epsilon=1e-5)]
    m = make_model(nodes, [("x", F32, [1, 5, 8])], [("y", F32, None)], {"g": w(8), "b": w(8)})
    ops = check(m)
    assert {"MEAN", "RSQRT", "SQUARED_DIFFERENCE"} <= set(ops)


def test_batchnorm_standalone():
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)
    m = make_model(
        [node],
        [("x", F32, [1, 4, 3, 3])],
        [("y", F32, None)],
        {"s": w(4), "b": w(4), "m": w(4), "v": np.abs(w(4)) + 0.5},
    )
    check(m)


def test_instance_norm_channels_last():
    node = helper.make_node("InstanceNormalization", ["c", "s", "b"], ["y"], epsilon=1e-4)
    ops = check(conv_net([node], None, {"s": w(4), "b": w(4)}), rtol=1e-3)
    assert "TRANSPOSE" not in ops


def test_conv1d_stack_reshapes_collapse():
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], kernel_shape=[3], pads=[1, 1]),
             helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["y"], kernel_shape=[3], strides=[1], pads=[1, 1])]
    m = make_model(nodes, [("x", F32, [1, 4, 12])], [("y", F32, None)], {"w1": w(6, 4, 3), "w2": w(5, 6, 3)})
    assert check(m) == ["RESHAPE", "CONV_2D", "CONV_2D", "RESHAPE"]
