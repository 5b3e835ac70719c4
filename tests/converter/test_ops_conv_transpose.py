"""General ConvTranspose (``ops/conv_transpose_ext.py``) against ONNX Runtime, in LiteRT and
edgelite's interpreter: 1-D/3-D, groups, dilations, output_padding, auto_pad, output_shape,
run-time weights; plus the gathered table by hand and a hypothesis sweep."""

from __future__ import annotations

import numpy as np
import pytest

from tests.converter.helpers import check, make_model

from hypothesis import assume, given, settings, strategies as st  # noqa: E402
from onnx import helper  # noqa: E402

BOTH = pytest.mark.parametrize("interp", ["litert", "edgelite"])


def test_transpose_table_by_hand():
    from edgelite.converter.ops.conv_transpose_ext import transpose_table

    # 1-D, input 3, kernel 2, stride 2: full output 6, positions f = 2 i + k.
    t = transpose_table((3,), (2,), (2,), (1,), (0,), (6,))
    assert t.tolist() == [[0, 3, 1, 3, 2, 3], [3, 0, 3, 1, 3, 2]]


def _model(xs, ws, ys, runtime_w=False, bias=True, **attrs):
    rng = np.random.default_rng(1)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[1] * attrs.get("group", 1)).astype(np.float32)
    ins = ["x", "w"] + (["b"] if bias else [])
    inputs = [("x", np.float32, xs)] + ([("w", np.float32, list(ws))] if runtime_w else [])
    inits = {} if runtime_w else {"w": w}
    if bias:
        inits["b"] = b
    m = make_model([helper.make_node("ConvTranspose", ins, ["y"], **attrs)], inputs, [("y", np.float32, ys)], inits, opset=17)
    feeds = {"x": rng.standard_normal(xs).astype(np.float32)}
    if runtime_w:
        feeds["w"] = w
    return m, feeds


CASES = [
    ("1d", [1, 2, 5], (2, 3, 3), None, {"strides": [2]}),
    ("3d", [1, 1, 3, 4, 2], (1, 2, 2, 3, 2), None, {}),
    ("groups", [1, 4, 3, 3], (4, 2, 3, 3), None, {"group": 2, "strides": [2, 1]}),
    ("dilations", [1, 1, 3, 3], (1, 2, 2, 2), None, {"dilations": [2, 2]}),
    ("output_padding", [1, 1, 3, 3], (1, 2, 3, 3), None, {"strides": [3, 2], "output_padding": [1, 1]}),
    ("same_upper", [1, 1, 3, 3], (1, 2, 3, 3), None, {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ("output_shape", [1, 1, 3, 3], (1, 2, 3, 3), None, {"strides": [3, 2], "output_shape": [10, 8]}),
    ("pads", [1, 2, 4, 4], (2, 3, 3, 3), None, {"strides": [2, 2], "pads": [1, 2, 0, 1]}),
]


@BOTH
@pytest.mark.parametrize("name,xs,ws,ys,attrs", CASES, ids=[c[0] for c in CASES])
def test_conv_transpose_forms(interp, name, xs, ws, ys, attrs):
    m, feeds = _model(xs, ws, ys, **attrs)
    ops = check(m, feeds, interpreter=interp)
    assert "BATCH_MATMUL" in ops or "TRANSPOSE_CONV" in ops


@BOTH
def test_conv_transpose_runtime_weights_no_bias(interp):
    m, feeds = _model([1, 2, 3, 3], (2, 2, 2, 2), None, runtime_w=True, bias=False, strides=[2, 2])
    ops = check(m, feeds, interpreter=interp)
    assert "BATCH_MATMUL" in ops and "TRANSPOSE_CONV" not in ops


@settings(max_examples=12, deadline=None)
@given(
    size=st.integers(1, 4), k=st.integers(1, 3), s=st.integers(1, 3), d=st.integers(1, 2),
    g=st.sampled_from([1, 2]), pb=st.integers(0, 1), op=st.integers(0, 1),
)
def test_conv_transpose_property_1d(size, k, s, d, g, pb, op):
    op = min(op, s - 1)  # ONNX Runtime requires output_padding < stride
    assume((size - 1) * s + (k - 1) * d + 1 + op - pb > 0)
    m, feeds = _model([1, 2 * g, size], (2 * g, 2, k), None, group=g, strides=[s], dilations=[d],
                      pads=[pb, 0], output_padding=[op])
    check(m, feeds, interpreter="edgelite")
