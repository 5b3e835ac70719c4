"""Property tests (hypothesis): random convolution geometries and random transpose chains
convert to models that match ONNX Runtime, and layout never leaves a needless TRANSPOSE."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("hypothesis")
onnx = pytest.importorskip("onnx")
helper = onnx.helper
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.converter.helpers import check, make_model

F32 = np.float32
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def conv_case(draw):
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    d = draw(st.integers(1, 2)) if s == 1 else 1
    pads = [draw(st.integers(0, k - 1)) for _ in range(4)]
    depthwise = draw(st.booleans())
    h, w = draw(st.integers((k - 1) * d + 1, 12)), draw(st.integers((k - 1) * d + 1, 12))
    return k, s, d, pads, depthwise, h, w


@SETTINGS
@given(conv_case(), st.integers(0, 2**31 - 1))
def test_random_conv2d_matches_onnxruntime(case, seed):
    k, s, d, pads, depthwise, h, w = case
    rng = np.random.default_rng(seed)
    cin = 3
    group, cout = (cin, cin * 2) if depthwise else (1, 4)
    node = helper.make_node(
        "Conv", ["x", "w", "b"], ["y"], kernel_shape=[k, k], strides=[s, s], pads=pads, dilations=[d, d], group=group
    )
    m = make_model(
        [node],
        [("x", F32, [1, cin, h, w])],
        [("y", F32, None)],
        {"w": rng.standard_normal((cout, cin // group, k, k)).astype(F32), "b": rng.standard_normal(cout).astype(F32)},
    )
    assert "TRANSPOSE" not in check(m)


@SETTINGS
@given(st.lists(st.permutations([0, 1, 2, 3]), min_size=1, max_size=4), st.sampled_from(["Relu", "Neg", "Softmax"]))
def test_random_transpose_chains(perms, op):
    # Conv (NHWC) -> a chain of transposes with an op in the middle -> MaxPool (NHWC again).
    nodes = [helper.make_node("Conv", ["x", "w"], ["t0"])]
    cur = "t0"
    shape = [1, 4, 5, 6]
    for i, p in enumerate(perms):
        nodes.append(helper.make_node("Transpose", [cur], [f"t{i + 1}"], perm=list(p)))
        cur = f"t{i + 1}"
        shape = [shape[a] for a in p]
        if i == 0:
            attrs = {"axis": -1} if op == "Softmax" else {}
            nodes.append(helper.make_node(op, [cur], ["mid"], **attrs))
            cur = "mid"
    m = make_model(
        nodes,
        [("x", F32, [1, 3, 5, 6])],
        [(cur, F32, None)],
        {"w": np.random.default_rng(0).standard_normal((4, 3, 1, 1)).astype(F32)},
    )
    ops = check(m)
    # At most one materialized transpose (to the output layout) and one for softmax's axis.
    assert ops.count("TRANSPOSE") <= (2 if op == "Softmax" else 1)
